//! A small HTTP server for the live view: the page (embedded in the binary) and the
//! files of one run folder, nothing else. One thread, one request per connection: the
//! page asks for a few small files a second, and the server keeps no state of its own.

use crate::error::{CliError, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/view.js");
const STYLE: &str = include_str!("page/view.css");

/// A running server; dropping it stops it.
#[derive(Debug)]
pub(crate) struct Server {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `bind:port` (port 0: one the system picks) and serves `dir`.
    pub(crate) fn start(dir: &Path, bind: IpAddr, port: u16) -> Result<Server> {
        let listener = TcpListener::bind((bind, port)).map_err(|error| {
            CliError::argument(
                "--port",
                &port.to_string(),
                format!("cannot listen on {bind}: {error}"),
            )
        })?;
        let fail = |error: std::io::Error| CliError::Output(format!("cannot serve: {error}"));
        let address = listener.local_addr().map_err(fail)?;
        listener.set_nonblocking(true).map_err(fail)?;
        let root = dir.to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || serve(&listener, &root, &stopped));
        Ok(Server {
            address,
            stop,
            thread: Some(thread),
        })
    }

    /// The page's address.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/", self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            // A panic in the server thread has already been printed.
            let _ = thread.join();
        }
    }
}

fn serve(listener: &TcpListener, root: &Path, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                // A client that misbehaves costs us one connection, never the server.
                let _ = answer(stream, root);
            }
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Reads one request and answers it.
fn answer(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The headers tell us nothing we need; read them so the client sees a clean close.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let response = if method == "GET" {
        route(target, root)
    } else {
        Response::status(405, "only GET")
    };
    response.send(stream)
}

struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Response {
    fn status(status: u16, message: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{message}\n").into_bytes(),
        }
    }

    fn ok(content_type: &'static str, body: Vec<u8>) -> Self {
        Response {
            status: 200,
            content_type,
            body,
        }
    }

    fn send(self, mut stream: TcpStream) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "Method Not Allowed",
        };
        write!(
            stream,
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        )?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

/// The page at `/`, its script and style, and the run's files under `/run/`.
fn route(target: &str, root: &Path) -> Response {
    match target {
        "/" | "/index.html" => Response::ok("text/html; charset=utf-8", INDEX.into()),
        "/view.js" => Response::ok("text/javascript; charset=utf-8", SCRIPT.into()),
        "/view.css" => Response::ok("text/css; charset=utf-8", STYLE.into()),
        _ => match target
            .strip_prefix("/run/")
            .map(|path| run_file(root, path))
        {
            Some(Ok(path)) => match std::fs::read(&path) {
                Ok(bytes) => Response::ok(content_type(&path), bytes),
                Err(_) => Response::status(404, "no such file in the run"),
            },
            Some(Err(message)) => Response::status(400, message),
            None => Response::status(404, "not found"),
        },
    }
}

/// The file `path` names inside the run folder, or why it is refused: only plain names
/// separated by `/` (no `..`, no absolute path, no percent-encoding, no query), and the
/// resolved file must lie inside the folder (links included).
fn run_file(root: &Path, path: &str) -> std::result::Result<PathBuf, &'static str> {
    let plain = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    if !path.split('/').all(plain) {
        return Err("only plain file names inside the run");
    }
    let inside = root.join(path);
    let (Ok(root), Ok(file)) = (root.canonicalize(), inside.canonicalize()) else {
        return Ok(inside);
    };
    if file.starts_with(&root) {
        Ok(file)
    } else {
        Err("outside the run")
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_inside_the_run_are_served() {
        let dir = std::env::temp_dir().join(format!("unstuck-serve-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("states/epoch-000001")).unwrap();
        std::fs::write(dir.join("run.json"), "{}").unwrap();
        assert!(run_file(&dir, "run.json").is_ok());
        assert!(run_file(&dir, "states/epoch-000001").is_ok());
        for bad in [
            "../etc/passwd",
            "..",
            "/etc/passwd",
            "%2e%2e/etc/passwd",
            "..%2fetc",
            "a//b",
            "run.json?x=1",
            "states/../../x",
            "a\\..\\b",
        ] {
            assert!(run_file(&dir, bad).is_err(), "{bad}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
