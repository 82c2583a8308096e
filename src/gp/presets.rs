//! The "Gaussian Process Middle C" kernel (falmity.com), in seconds so that it
//! works at any sample rate; at 44.1 kHz it is the post's kernel sample for
//! sample (period 167 samples, 264.1 Hz).
//!
//! core(tau; p1, p2) = exp(-|tau|/(102 P)) (2 exp(-p1 sin^2(pi tau/P)) - 1 + p2 sin^8(pi tau/P)),
//! P = 167 / 44100 s; before the switch (p1, p2) = (2, 0.25), after it (5, 1.7).
//! The post's cos^8(pi/2 + x) is sin^8(x) = ((1 - cos 2x)/2)^4, and
//! exp(-p1 sin^2 x) is the periodic kernel with ell = sqrt(2 / p1).

use super::kernel::Kernel;
use super::{Amplitude, Component, Model};

/// The rate the post's kernel was written at.
pub const MIDDLE_C_POST_RATE: f64 = 44_100.0;
/// Period of the note: 167 samples at 44.1 kHz (264.1 Hz).
pub const MIDDLE_C_PERIOD: f64 = 167.0 / MIDDLE_C_POST_RATE;
/// Lengthscale of the decay: 102 periods.
pub const MIDDLE_C_DECAY: f64 = 102.0 * MIDDLE_C_PERIOD;
/// The post's grid: t = 0..90000 at 44.1 kHz, 90001 samples.
pub const MIDDLE_C_SECONDS: f64 = 90_001.0 / MIDDLE_C_POST_RATE;

/// The post's stationary core with parameters (p1, p2), unchanged.
pub fn middle_c_core(p1: f64, p2: f64) -> Kernel {
    let half_one_minus_cos = Kernel::Product {
        factors: vec![
            Kernel::Constant { value: 0.5 },
            Kernel::Sum {
                terms: vec![
                    Kernel::Constant { value: 1.0 },
                    Kernel::Product {
                        factors: vec![
                            Kernel::Constant { value: -1.0 },
                            Kernel::Cosine {
                                var: 1.0,
                                freq: 1.0 / MIDDLE_C_PERIOD,
                            },
                        ],
                    },
                ],
            },
        ],
    };
    Kernel::Product {
        factors: vec![
            Kernel::Matern12 {
                var: 1.0,
                ell: MIDDLE_C_DECAY,
            },
            Kernel::Sum {
                terms: vec![
                    Kernel::Product {
                        factors: vec![
                            Kernel::Constant { value: 2.0 },
                            Kernel::Periodic {
                                var: 1.0,
                                ell: (2.0 / p1).sqrt(),
                                period: MIDDLE_C_PERIOD,
                            },
                        ],
                    },
                    Kernel::Constant { value: -1.0 },
                    Kernel::Product {
                        factors: vec![
                            Kernel::Constant { value: p2 },
                            Kernel::Power {
                                base: Box::new(half_one_minus_cos),
                                exponent: 4,
                            },
                        ],
                    },
                ],
            },
        ],
    }
}

/// The "after" core, (p1, p2) = (5, 1.7): valid as it stands.
pub fn middle_c_after() -> Kernel {
    middle_c_core(5.0, 1.7)
}

/// The post's "before" core, (p1, p2) = (2, 0.25): its constant term is
/// a0 = -1.214e-4, so it is not positive definite.
pub fn middle_c_before_unclamped() -> Kernel {
    middle_c_core(2.0, 0.25)
}

/// The constant (zero-frequency) term of the "before" core's damped-cosine form.
pub fn middle_c_before_constant_term() -> f64 {
    middle_c_before_unclamped()
        .oscillators()
        .expect("the core is a sum of damped cosines")
        .iter()
        .find(|t| t.freq == 0.0)
        .map_or(0.0, |t| t.weight)
}

/// The "before" core with its constant term clamped to zero (a change of at
/// most 1.2e-4): the post's core minus a0 exp(-|tau|/(102 P)).
pub fn middle_c_before() -> Kernel {
    Kernel::Sum {
        terms: vec![
            middle_c_before_unclamped(),
            Kernel::Product {
                factors: vec![
                    Kernel::Constant {
                        value: -middle_c_before_constant_term(),
                    },
                    Kernel::Matern12 {
                        var: 1.0,
                        ell: MIDDLE_C_DECAY,
                    },
                ],
            },
        ],
    }
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// sigma(t) of the post, t in seconds: 4 s exp(-s/3000) + 2000 (logistic(s/1000) - 1/2), s = 44100 t.
pub fn middle_c_sigma(t: f64) -> f64 {
    let s = t * MIDDLE_C_POST_RATE;
    4.0 * s * (-s / 3000.0).exp() + 2000.0 * (logistic(s / 1000.0) - 0.5)
}

/// m(t) of the post, t in seconds: logistic(s/2500 - 17), s = 44100 t (switches near s = 42500).
pub fn middle_c_mix(t: f64) -> f64 {
    logistic(t * MIDDLE_C_POST_RATE / 2500.0 - 17.0)
}

/// The well-posed middle C model: f(t) = sigma(t) (sqrt(m(t)) f_aft(t) +
/// sqrt(1 - m(t)) f_bef(t)), f_aft and f_bef independent, the "before" core clamped.
pub fn middle_c() -> Model {
    Model {
        name: "middle-c".to_string(),
        components: vec![
            Component {
                kernel: middle_c_after(),
                amplitude: Amplitude::MiddleCAfter,
            },
            Component {
                kernel: middle_c_before(),
                amplitude: Amplitude::MiddleCBefore,
            },
        ],
        default_seconds: MIDDLE_C_SECONDS,
    }
}

/// Named kernels `--kernel` accepts besides expressions and JSON.
pub const KERNEL_PRESETS: &str = "middle-c-after, middle-c-before, middle-c-before-unclamped";

/// The preset kernel called `name`, if there is one.
pub fn kernel_preset(name: &str) -> Option<Kernel> {
    match name {
        "middle-c-after" => Some(middle_c_after()),
        "middle-c-before" => Some(middle_c_before()),
        "middle-c-before-unclamped" => Some(middle_c_before_unclamped()),
        _ => None,
    }
}
