//! The golden tanh-MLP problems (P = 100 and P = 992, batch 256, mean cross-entropy):
//! the dense spectrum against PyTorch, and every matrix-free tool against the dense answer.

mod common;

use common::{Solved, max_rel_diff, p100, p1000};
use unstuck_hessian::{
    ClassifyTolerances, DensityGrid, EscapeConfig, LanczosConfig, SlqConfig, SpectrumEnd,
    SpectrumPolicy, TapeObjective, TraceConfig, analyze_dense, apply_checked, block_summaries,
    classify_critical_point, escape_saddle, full_hessian, hutch_plus_plus_trace, hutchinson_trace,
    lanczos, sign_counts, spectral_density,
};

/// The dense Hessian and its spectrum against PyTorch.
///
/// Tolerances: eigenvalues to 1e-10 of the largest (the requirement; both sides are
/// f64 with ~1e-15 relative rounding, amplified by the batch sums and the eigensolver); the
/// scalar summaries to 1e-10 relative for the same reason; the asymmetry of an exact
/// reverse-over-reverse Hessian is rounding-sized, below 1e-13 of its largest entry.
fn check_dense_spectrum(solved: &Solved) {
    let (problem, hessian) = (&solved.problem, &solved.hessian);
    let values = solved.eigen.values();
    let scale = problem
        .scalar("eig_max")
        .abs()
        .max(problem.scalar("eig_min").abs());
    let err = max_rel_diff(values, &problem.eigenvalues, scale);
    assert!(
        err < 1e-10,
        "{}: eigenvalues off by {err:e} of the largest",
        problem.name
    );
    assert!(
        hessian.relative_asymmetry() < 1e-13,
        "asymmetry {:e}",
        hessian.relative_asymmetry()
    );

    let trace = problem.scalar("trace");
    assert!(
        (hessian.trace() - trace).abs() < 1e-10 * trace.abs(),
        "trace {} vs {trace}",
        hessian.trace()
    );
    let frobenius = problem.scalar("hessian_frobenius");
    assert!((hessian.frobenius_norm() - frobenius).abs() < 1e-10 * frobenius);
    assert!((values[0] - problem.scalar("eig_min")).abs() < 1e-10 * scale);
    assert!((values[values.len() - 1] - problem.scalar("eig_max")).abs() < 1e-10 * scale);

    // The softmax's shift invariance gives exact zero eigenvalues (one per output-layer
    // input, bias included); PyTorch's counts used the same 1e-10 relative threshold.
    let counts = sign_counts(values, 1e-10).unwrap();
    assert_eq!(counts.negative, problem.scalar("n_negative") as usize);
    assert_eq!(counts.positive, problem.scalar("n_positive") as usize);

    // H v from the dense matrix against PyTorch's HVP: checks the column assembly.
    let n = hessian.dim();
    let hv: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| hessian.entry(i, j) * problem.v[j]).sum())
        .collect();
    let hv_scale = problem.hvp.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    assert!(max_rel_diff(&hv, &problem.hvp, hv_scale) < 1e-10);

    let gradient_norm = problem.scalar("grad_norm");
    let analysis = analyze_dense(
        problem.scalar("loss"),
        &problem.gradient,
        hessian,
        ClassifyTolerances::default(),
    )
    .unwrap();
    assert!((analysis.gradient_norm - gradient_norm).abs() < 1e-12 * gradient_norm);
    assert_eq!(analysis.kind.as_str(), "not_critical");
    let as_if_critical = ClassifyTolerances {
        gradient_abs: 1.0,
        ..Default::default()
    };
    assert_eq!(
        classify_critical_point(gradient_norm, values, as_if_critical)
            .unwrap()
            .as_str(),
        "saddle"
    );
    assert_eq!(analysis.minimum_ratio, counts.positive as f64 / n as f64);
}

#[test]
fn p100_dense_spectrum_matches_pytorch() {
    check_dense_spectrum(p100());
}

#[test]
fn p1000_dense_spectrum_matches_pytorch() {
    check_dense_spectrum(p1000());
}

/// Lanczos's 5 largest and 5 smallest against the dense eigenvalues, to 1e-8 (the issue's
/// requirement, absolute on spectra of size ~1; the residual tolerance 1e-10 bounds the
/// eigenvalue error by 1e-10 * ||T|| at worst).
fn check_lanczos(solved: &Solved) -> usize {
    let values = solved.eigen.values();
    let n = values.len();
    let config = LanczosConfig {
        k: 5,
        end: SpectrumEnd::Both,
        max_iter: 400,
        tol: 1e-10,
        seed: 7,
    };
    let res = lanczos(&solved.curvature, config).unwrap();
    assert!(
        res.converged,
        "{}: {} of 10 converged in {} HVPs",
        solved.problem.name, res.n_converged, res.n_hvp
    );
    for (j, pair) in res.largest.iter().enumerate() {
        assert!(
            (pair.value - values[n - 1 - j]).abs() < 1e-8,
            "largest {j}: {} vs {}",
            pair.value,
            values[n - 1 - j]
        );
    }
    for (j, pair) in res.smallest.iter().enumerate() {
        assert!(
            (pair.value - values[j]).abs() < 1e-8,
            "smallest {j}: {} vs {}",
            pair.value,
            values[j]
        );
    }
    // The Ritz vector of the top pair really is an eigenvector: residual through the operator.
    let top = &res.largest[0];
    let hv = apply_checked(&solved.curvature, &top.vector, 1).unwrap();
    let r = hv
        .iter()
        .zip(&top.vector)
        .map(|(h, v)| (h - top.value * v).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(r < 1e-8, "residual {r:e}");
    res.n_hvp
}

#[test]
fn p100_lanczos_matches_dense_at_both_ends() {
    let n_hvp = check_lanczos(p100());
    assert!(n_hvp <= 100);
}

#[test]
fn p1000_lanczos_matches_dense_at_both_ends() {
    let n_hvp = check_lanczos(p1000());
    // Far fewer HVPs than the 992 of the dense Hessian: the point of going matrix-free.
    assert!(n_hvp < 400, "{n_hvp} HVPs");
}

#[test]
fn p1000_trace_estimators_are_within_their_confidence() {
    let solved = p1000();
    let exact = solved.hessian.trace();
    for (name, estimate) in [
        (
            "hutchinson",
            hutchinson_trace(
                &solved.curvature,
                TraceConfig {
                    n_hvp: 96,
                    block: 32,
                    seed: 21,
                },
            )
            .unwrap(),
        ),
        (
            "hutch++",
            hutch_plus_plus_trace(
                &solved.curvature,
                TraceConfig {
                    n_hvp: 96,
                    block: 32,
                    seed: 21,
                },
            )
            .unwrap(),
        ),
    ] {
        // Deterministic given the seed; 4 standard errors is a 1-in-15,000 event under the
        // CLT, so a failure means a wrong estimator or error bar, not bad luck.
        let (lo, hi) = estimate.interval(4.0);
        assert!(
            lo <= exact && exact <= hi,
            "{name}: {exact} outside [{lo}, {hi}]"
        );
        assert!(
            estimate.std_error > 0.0 && estimate.std_error < exact.abs(),
            "{name}: {}",
            estimate.std_error
        );
    }
}

#[test]
fn p100_spectral_density_integrates_to_one_and_matches_the_moments() {
    let solved = p100();
    let values = solved.eigen.values();
    let n = values.len() as f64;
    let config = SlqConfig {
        n_probes: 8,
        lanczos_steps: 30,
        seed: 5,
    };
    let slq = spectral_density(&solved.curvature, config).unwrap();
    assert_eq!(slq.n_hvp, 8 * 30);

    let curve = slq.smoothed(DensityGrid::default()).unwrap();
    // Each Gaussian integrates to 1 and each probe's weights sum to 1; the trapezoid rule
    // on ~10 points per standard deviation is accurate to far below 1e-6.
    assert!(
        (curve.integral() - 1.0).abs() < 1e-6,
        "integral {}",
        curve.integral()
    );

    // Moments: the SLQ estimate of tr(H^k)/P is an average of 8 quadratic forms v^T H^k v
    // of unit Rademacher probes, each with standard deviation below sqrt(2) ||H^k||_F / P.
    // It must be within 4 such standard errors of the dense spectrum's moment.
    let hessian = &solved.hessian;
    for k in 1..=4 {
        let want = values.iter().map(|l| l.powi(k)).sum::<f64>() / n;
        let frobenius_k = values.iter().map(|l| l.powi(2 * k)).sum::<f64>().sqrt();
        let std_error = 2f64.sqrt() * frobenius_k / n / (config.n_probes as f64).sqrt();
        let got = slq.moment(k);
        assert!(
            (got - want).abs() < 4.0 * std_error,
            "moment {k}: {got} vs {want} (se {std_error:e})"
        );
    }
    assert!(
        (slq.trace_estimate() - hessian.trace()).abs()
            < 4.0 * 2f64.sqrt() * hessian.frobenius_norm() / 8f64.sqrt()
    );
}

#[test]
fn autodiff_hessian_is_bit_identical_with_one_and_two_threads() {
    let solved = p100();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| full_hessian(&solved.curvature).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert!(
        one.data()
            .iter()
            .zip(two.data())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    assert_eq!(one.asymmetry().to_bits(), two.asymmetry().to_bits());
}

#[test]
fn per_layer_blocks_match_the_dense_sub_blocks() {
    let solved = p100();
    let blocks = common::mlp_blocks(&solved.problem.widths);
    assert_eq!(blocks.last().unwrap().range.end, solved.curvature.dim());
    let summaries =
        block_summaries(&solved.curvature, &blocks, &SpectrumPolicy::default()).unwrap();
    for (block, summary) in blocks.iter().zip(&summaries) {
        let n = block.range.len();
        let sub: Vec<f64> = block
            .range
            .clone()
            .flat_map(|i| block.range.clone().map(move |j| (i, j)))
            .map(|(i, j)| solved.hessian.entry(i, j))
            .collect();
        let sub = unstuck_hessian::DenseHessian::from_row_major(n, sub).unwrap();
        let values = sub.eigenvalues().unwrap();
        // The same columns as the full assembly, up to the symmetrisation order: 1e-14.
        assert!(
            (summary.max_eigenvalue - values[n - 1]).abs() < 1e-14,
            "{}",
            block.name
        );
        assert!(
            (summary.min_eigenvalue - values[0]).abs() < 1e-14,
            "{}",
            block.name
        );
        assert!(
            (summary.trace - sub.trace()).abs() < 1e-14,
            "{}",
            block.name
        );
    }
    // The output layer's bias block of a 2-class softmax has a zero eigenvalue (shifting
    // both logits together changes nothing) next to a positive one.
    let bias = summaries.last().unwrap();
    assert!(bias.min_eigenvalue.abs() < 1e-14 && bias.max_eigenvalue > 0.0);
}

#[test]
fn p100_escape_along_negative_curvature_lowers_the_loss() {
    let problem = &p100().problem;
    let objective = TapeObjective::new(problem.theta.len(), problem.loss());
    let step = escape_saddle(
        &objective,
        &problem.theta,
        LanczosConfig::default(),
        EscapeConfig::default(),
    )
    .unwrap();
    assert!(step.loss_after < step.loss_before && step.loss_drop > 0.0);
    assert!((step.loss_before - problem.scalar("loss")).abs() < 1e-12);
}

#[test]
fn p100_refinement_lowers_the_gradient_norm() {
    let problem = &p100().problem;
    let objective = TapeObjective::new(problem.theta.len(), problem.loss());
    let config = unstuck_hessian::RefineConfig {
        max_iter: 8,
        cg_max_iter: 60,
        ..Default::default()
    };
    let res = unstuck_hessian::refine_critical_point(&objective, &problem.theta, config).unwrap();
    assert!(
        res.gradient_norms.windows(2).all(|w| w[1] < w[0]),
        "{:?}",
        res.gradient_norms
    );
    let (first, last) = (res.gradient_norms[0], *res.gradient_norms.last().unwrap());
    assert!(last < 1e-2 * first, "{first} -> {last}");
}

#[test]
fn p100_epsilon_sharpness_is_bounded_by_the_taylor_model() {
    let solved = p100();
    let problem = &solved.problem;
    let objective = TapeObjective::new(problem.theta.len(), problem.loss());
    let config = unstuck_hessian::SharpnessConfig {
        epsilon: 1e-3,
        ..Default::default()
    };
    let res = unstuck_hessian::epsilon_sharpness(&objective, &problem.theta, config).unwrap();
    let radius: Vec<f64> = problem
        .theta
        .iter()
        .map(|t| 1e-3 * (t.abs() + 1.0))
        .collect();
    // Upper bound: f(theta + d) - f(theta) <= sum r_i |g_i| + rho(H) ||r||^2 / 2 + O(r^3);
    // with ||r|| ~ 1e-2 the cubic term is below 1e-6.
    let linear: f64 = radius
        .iter()
        .zip(&problem.gradient)
        .map(|(r, g)| r * g.abs())
        .sum();
    let values = solved.eigen.values();
    let rho = values[0].abs().max(values[values.len() - 1].abs());
    let quadratic = 0.5 * rho * radius.iter().map(|r| r * r).sum::<f64>();
    assert!(
        res.increase > 0.0 && res.increase <= linear + quadratic + 1e-6,
        "{} vs {}",
        res.increase,
        linear + quadratic
    );
    // Lower bound: the corner theta + r sign(g), which the ascent from the centre reaches.
    let corner: Vec<f64> = problem
        .theta
        .iter()
        .zip(&radius)
        .zip(&problem.gradient)
        .map(|((t, r), g)| t + r * g.signum())
        .collect();
    let corner_loss = unstuck_hessian::LossSurface::value(&objective, &corner).unwrap();
    assert!(
        res.max_loss >= corner_loss - 1e-12,
        "{} < {corner_loss}",
        res.max_loss
    );
    assert!((res.sharpness - 100.0 * res.increase / (1.0 + res.loss)).abs() < 1e-15);
}
