//! The live view: `--watch` serves the run folder's curves while it trains, a real
//! browser (headless Chromium) sees them grow, the server serves nothing outside the
//! run, a port in use is a one-line error before training, and the server stops with
//! the run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_unstuck");

/// The next line the child writes on stderr, read byte by byte so that nothing after it
/// is taken from the pipe.
fn next_line(child: &mut Child) -> String {
    let stderr = child.stderr.as_mut().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8];
    while stderr.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// Starts `unstuck ARGS` in `dir` and reads the address of its live view from stderr.
fn start_serving(dir: &Path, args: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = next_line(&mut child);
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, url)
}

fn long_watched_run(dir: &Path) -> (Child, String) {
    start_serving(
        dir,
        &[
            "train",
            "digits",
            "--model",
            "64-16-10:relu",
            "--epochs",
            "100000",
            "--out",
            "run",
            "--watch",
        ],
    )
}

fn stop(child: Child) {
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait_with_output().unwrap().status;
    assert_eq!(status.code(), Some(130));
}

/// A raw request, so that the path reaches the server exactly as written.
fn get(url: &str, path: &str) -> (u16, String) {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn the_server_serves_the_page_and_the_run_and_nothing_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside the run").unwrap();
    let (child, url) = long_watched_run(dir.path());
    let (status, page) = get(&url, "/");
    assert_eq!(status, 200);
    assert!(page.contains("view.js"), "{page}");
    assert_eq!(get(&url, "/view.js").0, 200);
    // The server starts before the folder is written (a busy port fails before work).
    let started = Instant::now();
    while get(&url, "/run/run.json").0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(60), "no run.json");
        std::thread::sleep(Duration::from_millis(20));
    }
    for bad in [
        "/run/../secret.txt",
        "/run/..%2fsecret.txt",
        "/run/%2e%2e/secret.txt",
        "/run//etc/passwd",
        "/run/states/../../secret.txt",
        "/../secret.txt",
        "/etc/passwd",
        "http://example.com/run/run.json",
    ] {
        let (status, body) = get(&url, bad);
        assert!(status == 400 || status == 404, "{bad}: {status}");
        assert!(!body.contains("outside the run"), "{bad}");
        assert!(!body.contains("root:"), "{bad}");
    }
    stop(child);
}

#[test]
fn watch_on_a_port_in_use_is_one_line_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = Command::new(BIN)
        .current_dir(dir.path())
        .args(["train", "digits", "--model", "64-10", "--epochs", "100000"])
        .args(["--out", "run", "--watch", "--port", &port])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "error: --port {port}: cannot listen on 127.0.0.1: "
        )),
        "{stderr}"
    );
    assert!(!dir.path().join("run").exists());
}

#[test]
fn the_server_stops_with_the_run_and_view_serves_the_finished_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = start_serving(
        dir.path(),
        &[
            "train", "digits", "--model", "64-10", "--epochs", "2", "--out", "run", "--watch",
        ],
    );
    assert!(child.wait_with_output().unwrap().status.success());
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    assert!(TcpStream::connect(address).is_err(), "still serving");
    let (mut view, url) = start_serving(dir.path(), &["view", "run"]);
    let (status, log) = get(&url, "/run/history.jsonl");
    assert_eq!(status, 200);
    assert_eq!(
        log.lines().filter(|l| l.starts_with("{\"epoch\"")).count(),
        2
    );
    view.kill().unwrap();
    view.wait().unwrap();
}

/// Chromium's command line for one page load in a fresh profile.
fn chromium(profile: &Path) -> Option<Command> {
    let binary = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })?;
    let mut command = Command::new(binary);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Lets the page's fetches and first redraws finish before the DOM is dumped.
            "--virtual-time-budget=3000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .stderr(Stdio::null());
    Some(command)
}

/// How many points the browser drew for the per-step loss, read from the page's DOM.
fn loss_points(dom: &str) -> usize {
    let marker = "data-kind=\"step\" data-name=\"loss\" data-points=\"";
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no loss chart in the page:\n{dom}"))
        + marker.len();
    let end = start + dom[start..].find('"').unwrap();
    dom[start..end].parse().unwrap()
}

#[test]
fn a_real_browser_sees_the_curves_grow_while_the_run_trains() {
    let profiles = tempfile::tempdir().unwrap();
    if chromium(profiles.path()).is_none() {
        assert!(
            std::env::var_os("UNSTUCK_REQUIRE_CHROMIUM").is_none(),
            "UNSTUCK_REQUIRE_CHROMIUM is set and Chromium is missing"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (child, url) = long_watched_run(dir.path());
    let load = |name: &str| {
        let output = chromium(&profiles.path().join(name))
            .unwrap()
            .arg(&url)
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let started = Instant::now();
    let first = loop {
        let dom = load("first");
        if dom.contains("data-name=\"loss\"") {
            break loss_points(&dom);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no curve:\n{dom}"
        );
    };
    let second = loss_points(&load("second"));
    stop(child);
    assert!(first > 0);
    assert!(
        second > first,
        "the curve did not grow: {first} then {second} points"
    );
}

#[test]
fn keep_serving_serves_after_training_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train", "digits", "--model", "64-10", "--epochs", "1", "--out", "run",
    ];
    let (mut child, url) = start_serving(
        dir.path(),
        &[&args[..], &["--watch", "--keep-serving"]].concat(),
    );
    let line = next_line(&mut child);
    assert!(line.starts_with("training done; serving"), "{line}");
    let (status, log) = get(&url, "/run/history.jsonl");
    assert_eq!(status, 200);
    assert!(log.contains("{\"epoch\""), "{log}");
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    assert!(child.wait().unwrap().success());
}
