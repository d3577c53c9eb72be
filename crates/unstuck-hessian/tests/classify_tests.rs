//! A function with a known local maximum, minimum, saddle and degenerate points, through
//! the tape; and the errors of the public entry points.

mod common;

use unstuck_autodiff::{AutodiffError, Tape, Var};
use unstuck_hessian::{
    BlockOperator, ClassifyTolerances, CriticalPointKind, DenseOperator, HessianError,
    LanczosConfig, LossSurface, ParamBlock, PowerConfig, SpectrumEnd, TapeObjective,
    analyze_critical_point, analyze_tape_function, hessian_of, lanczos, power_iteration,
};

/// f(x, y) = x^3 - 3x + y^3 - 3y: critical points at x, y = ±1 with H = diag(6x, 6y):
/// a minimum at (1, 1), a maximum at (-1, -1), saddles at (1, -1) and (-1, 1).
fn cubic(tape: &Tape<f64>, w: Var) -> Var {
    let cube_minus_3 = |v: Var| tape.sub(tape.mul(tape.square(v), v), tape.scale(v, 3.0));
    tape.sum(tape.add(
        cube_minus_3(tape.slice(w, 0, 1)),
        cube_minus_3(tape.slice(w, 1, 1)),
    ))
}

/// g(x, y) = x^4 + s y^2: at the origin H = diag(0, 2 s): degenerate, leaning by the sign
/// of s; with s = 0, every eigenvalue is zero.
fn quartic(s: f64) -> impl Fn(&Tape<f64>, Var) -> Var {
    move |tape, w| {
        let x = tape.slice(w, 0, 1);
        let y = tape.slice(w, 1, 1);
        tape.sum(tape.add(tape.square(tape.square(x)), tape.scale(tape.square(y), s)))
    }
}

fn kind_at<F: Fn(&Tape<f64>, Var) -> Var>(f: F, theta: &[f64]) -> CriticalPointKind {
    analyze_tape_function(f, theta, ClassifyTolerances::default())
        .unwrap()
        .kind
}

#[test]
fn known_minimum_maximum_saddles_and_degenerate_points() {
    assert_eq!(
        kind_at(cubic, &[1.0, 1.0]),
        CriticalPointKind::StrictLocalMin
    );
    assert_eq!(
        kind_at(cubic, &[-1.0, -1.0]),
        CriticalPointKind::StrictLocalMax
    );
    assert_eq!(kind_at(cubic, &[1.0, -1.0]), CriticalPointKind::Saddle);
    assert_eq!(kind_at(cubic, &[0.5, 1.0]), CriticalPointKind::NotCritical);
    assert_eq!(
        kind_at(quartic(1.0), &[0.0, 0.0]),
        CriticalPointKind::DegeneratePsd
    );
    assert_eq!(
        kind_at(quartic(-1.0), &[0.0, 0.0]),
        CriticalPointKind::DegenerateNsd
    );
    assert_eq!(
        kind_at(quartic(0.0), &[0.0, 0.0]),
        CriticalPointKind::DegenerateFlat
    );

    let max = analyze_tape_function(cubic, &[-1.0, -1.0], ClassifyTolerances::default()).unwrap();
    // H = diag(-6, -6) exactly (integer arithmetic).
    assert_eq!(max.eigenvalues, vec![-6.0, -6.0]);
    assert_eq!(max.minimum_ratio, 0.0);
    let min = analyze_tape_function(cubic, &[1.0, 1.0], ClassifyTolerances::default()).unwrap();
    assert_eq!(min.minimum_ratio, 1.0);
    assert!(min.escape.is_none());
    let saddle = analyze_tape_function(cubic, &[1.0, -1.0], ClassifyTolerances::default()).unwrap();
    let escape = saddle.escape.unwrap();
    assert_eq!(
        (escape.eigenvalue, escape.direction),
        (-6.0, vec![0.0, 1.0])
    );
}

#[test]
fn non_finite_theta_is_an_error() {
    let f = TapeObjective::new(2, common::lecture_loss);
    let err =
        analyze_critical_point(&f, &[0.0, f64::NAN], ClassifyTolerances::default()).unwrap_err();
    assert_eq!(
        err,
        HessianError::NonFinite {
            what: "theta",
            index: 1
        }
    );
    let err = hessian_of(common::lecture_loss, &[f64::INFINITY, 0.0]).unwrap_err();
    assert!(
        matches!(
            err,
            HessianError::Autodiff(AutodiffError::NonFinite { index: 0, .. })
        ),
        "{err:?}"
    );
    let err = f.value_and_gradient(&[1.0]).unwrap_err();
    assert_eq!(
        err,
        HessianError::LengthMismatch {
            what: "theta",
            expected: 2,
            got: 1
        }
    );
}

#[test]
fn non_scalar_function_is_an_error() {
    let vector_valued = |tape: &Tape<f64>, w: Var| tape.square(w);
    let err = hessian_of(vector_valued, &[1.0, 2.0]).unwrap_err();
    assert_eq!(
        err,
        HessianError::Autodiff(AutodiffError::NotScalar { shape: vec![2] })
    );
    let objective = TapeObjective::new(2, vector_valued);
    assert!(matches!(
        objective.value(&[1.0, 2.0]),
        Err(HessianError::Autodiff(AutodiffError::NotScalar { .. }))
    ));
    assert!(matches!(
        objective.value_and_gradient(&[1.0, 2.0]),
        Err(HessianError::Autodiff(AutodiffError::NotScalar { .. }))
    ));
}

#[test]
fn more_eigenpairs_than_parameters_is_an_error() {
    let op = DenseOperator::new(2, vec![1.0, 0.0, 0.0, 2.0]).unwrap();
    let config = LanczosConfig {
        k: 3,
        end: SpectrumEnd::Largest,
        ..Default::default()
    };
    assert_eq!(
        lanczos(&op, config).unwrap_err(),
        HessianError::TooManyEigenpairs {
            op: "lanczos",
            k: 3,
            dim: 2
        }
    );
    let err = power_iteration(
        &op,
        PowerConfig {
            k: 3,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err,
        HessianError::TooManyEigenpairs {
            op: "power_iteration",
            k: 3,
            dim: 2
        }
    );
}

#[test]
fn empty_block_is_an_error() {
    let op = DenseOperator::new(2, vec![1.0, 0.0, 0.0, 2.0]).unwrap();
    let err = BlockOperator::new(&op, &ParamBlock::new("layers.1.bias", 2..2)).unwrap_err();
    assert_eq!(
        err,
        HessianError::EmptyBlock {
            name: "layers.1.bias".into()
        }
    );
    assert!(err.to_string().contains("layers.1.bias"));
}
