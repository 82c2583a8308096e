//! Stationary covariance kernels k(tau), tau in seconds: their values, their
//! parameter checks, their text and JSON forms, and the damped-oscillator
//! form (a sum of w exp(-decay |tau|) cos(2 pi freq tau)) the state-space
//! sampler and the validity check use.

use crate::error::{Error, Result};
use std::f64::consts::PI;

fn one() -> f64 {
    1.0
}

/// A stationary kernel. Times are in seconds, frequencies in Hz, decays in
/// 1/s, so a kernel means the same thing at any sample rate. The JSON form is
/// this enum with a `"type"` tag (`{"type": "matern12", "var": 1, "ell": 0.1}`),
/// the text form is parsed by [`super::parse_kernel`]; both use the same names.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Kernel {
    /// The constant c (a valid kernel when c >= 0; in sums it may be negative).
    Constant {
        value: f64,
    },
    /// var exp(-tau^2 / (2 ell^2)).
    #[serde(rename = "se")]
    SquaredExp {
        #[serde(default = "one")]
        var: f64,
        ell: f64,
    },
    /// var exp(-2 sin^2(pi tau / period) / ell^2).
    Periodic {
        #[serde(default = "one")]
        var: f64,
        ell: f64,
        period: f64,
    },
    /// var exp(-|tau| / ell).
    Matern12 {
        #[serde(default = "one")]
        var: f64,
        ell: f64,
    },
    /// var (1 + sqrt3 r / ell) exp(-sqrt3 r / ell).
    Matern32 {
        #[serde(default = "one")]
        var: f64,
        ell: f64,
    },
    /// var (1 + sqrt5 r / ell + 5 r^2 / (3 ell^2)) exp(-sqrt5 r / ell).
    Matern52 {
        #[serde(default = "one")]
        var: f64,
        ell: f64,
    },
    /// One spectral mixture component (Wilson & Adams 2013):
    /// weight exp(-2 pi^2 tau^2 width^2) cos(2 pi freq tau); its spectrum is a
    /// gaussian of standard deviation `width` Hz at +-`freq`.
    #[serde(rename = "sm")]
    SpectralMixture {
        #[serde(default = "one")]
        weight: f64,
        freq: f64,
        width: f64,
    },
    /// Damped harmonic oscillator: var exp(-decay |tau|) cos(2 pi freq tau).
    #[serde(rename = "osc")]
    Oscillator {
        #[serde(default = "one")]
        var: f64,
        decay: f64,
        freq: f64,
    },
    /// var cos(2 pi freq tau) (a sinusoid of random phase).
    #[serde(rename = "cos")]
    Cosine {
        #[serde(default = "one")]
        var: f64,
        freq: f64,
    },
    Sum {
        terms: Vec<Kernel>,
    },
    Product {
        factors: Vec<Kernel>,
    },
    /// `base` multiplied by itself `exponent` times.
    Power {
        base: Box<Kernel>,
        exponent: u32,
    },
}

/// Largest exponent of [`Kernel::Power`].
pub const MAX_EXPONENT: u32 = 64;

/// One damped-oscillator term: weight exp(-decay |tau|) cos(2 pi freq tau).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Oscillator {
    pub weight: f64,
    /// 1/s.
    pub decay: f64,
    /// Hz, >= 0.
    pub freq: f64,
}

impl std::fmt::Display for Oscillator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.6e} exp(-{}|tau|) cos(2 pi {} Hz tau)",
            self.weight, self.decay, self.freq
        )
    }
}

/// Terms whose weight is below this fraction of the largest are dropped.
const NEGLIGIBLE_WEIGHT: f64 = 1e-15;
/// Most terms a decomposition may have.
const MAX_TERMS: usize = 4096;

impl Kernel {
    /// k(tau), tau in seconds.
    pub fn eval(&self, tau: f64) -> f64 {
        let r = tau.abs();
        match self {
            Kernel::Constant { value } => *value,
            Kernel::SquaredExp { var, ell } => var * (-0.5 * (r / ell).powi(2)).exp(),
            Kernel::Periodic { var, ell, period } => {
                let s = (PI * r / period).sin();
                var * (-2.0 * s * s / (ell * ell)).exp()
            }
            Kernel::Matern12 { var, ell } => var * (-r / ell).exp(),
            Kernel::Matern32 { var, ell } => {
                let x = 3f64.sqrt() * r / ell;
                var * (1.0 + x) * (-x).exp()
            }
            Kernel::Matern52 { var, ell } => {
                let x = 5f64.sqrt() * r / ell;
                var * (1.0 + x + x * x / 3.0) * (-x).exp()
            }
            Kernel::SpectralMixture {
                weight,
                freq,
                width,
            } => weight * (-2.0 * (PI * r * width).powi(2)).exp() * (2.0 * PI * freq * r).cos(),
            Kernel::Oscillator { var, decay, freq } => {
                var * (-decay * r).exp() * (2.0 * PI * freq * r).cos()
            }
            Kernel::Cosine { var, freq } => var * (2.0 * PI * freq * r).cos(),
            Kernel::Sum { terms } => terms.iter().map(|k| k.eval(tau)).sum(),
            Kernel::Product { factors } => factors.iter().map(|k| k.eval(tau)).product(),
            Kernel::Power { base, exponent } => base.eval(tau).powi(*exponent as i32),
        }
    }

    /// The kernel's name in both text and JSON forms.
    pub fn name(&self) -> &'static str {
        match self {
            Kernel::Constant { .. } => "constant",
            Kernel::SquaredExp { .. } => "se",
            Kernel::Periodic { .. } => "periodic",
            Kernel::Matern12 { .. } => "matern12",
            Kernel::Matern32 { .. } => "matern32",
            Kernel::Matern52 { .. } => "matern52",
            Kernel::SpectralMixture { .. } => "sm",
            Kernel::Oscillator { .. } => "osc",
            Kernel::Cosine { .. } => "cos",
            Kernel::Sum { .. } => "sum",
            Kernel::Product { .. } => "product",
            Kernel::Power { .. } => "power",
        }
    }

    /// Checks every parameter (finite; variances >= 0; lengthscales, periods
    /// and widths > 0; decays and frequencies >= 0); the error names the
    /// kernel and the parameter.
    pub fn validate(&self) -> Result<()> {
        let bad = |param: &str, value: f64, rule: &str| {
            Err(Error::invalid(
                "kernel",
                format!("{}: {param} must be {rule}, got {value}", self.name()),
            ))
        };
        for (param, value, rule) in self.parameter_rules() {
            let ok = value.is_finite()
                && match rule {
                    Rule::Positive => value > 0.0,
                    Rule::NonNegative => value >= 0.0,
                    Rule::Finite => true,
                };
            if !ok {
                return bad(param, value, rule.describe());
            }
        }
        match self {
            Kernel::Sum { terms: list } | Kernel::Product { factors: list } => {
                if list.is_empty() {
                    return Err(Error::invalid(
                        "kernel",
                        format!("{} of nothing", self.name()),
                    ));
                }
                list.iter().try_for_each(Kernel::validate)
            }
            Kernel::Power { base, exponent } => {
                if !(1..=MAX_EXPONENT).contains(exponent) {
                    return Err(Error::invalid(
                        "kernel",
                        format!("power: exponent must be 1 to {MAX_EXPONENT}, got {exponent}"),
                    ));
                }
                base.validate()
            }
            _ => Ok(()),
        }
    }

    /// (name, value, rule) of every scalar parameter of this node.
    fn parameter_rules(&self) -> Vec<(&'static str, f64, Rule)> {
        use Rule::*;
        match *self {
            Kernel::Constant { value } => vec![("value", value, Finite)],
            Kernel::SquaredExp { var, ell }
            | Kernel::Matern12 { var, ell }
            | Kernel::Matern32 { var, ell }
            | Kernel::Matern52 { var, ell } => {
                vec![("var", var, NonNegative), ("ell", ell, Positive)]
            }
            Kernel::Periodic { var, ell, period } => vec![
                ("var", var, NonNegative),
                ("ell", ell, Positive),
                ("period", period, Positive),
            ],
            Kernel::SpectralMixture {
                weight,
                freq,
                width,
            } => vec![
                ("weight", weight, NonNegative),
                ("freq", freq, NonNegative),
                ("width", width, Positive),
            ],
            Kernel::Oscillator { var, decay, freq } => vec![
                ("var", var, NonNegative),
                ("decay", decay, NonNegative),
                ("freq", freq, NonNegative),
            ],
            Kernel::Cosine { var, freq } => {
                vec![("var", var, NonNegative), ("freq", freq, NonNegative)]
            }
            _ => Vec::new(),
        }
    }

    /// The kernel as a sum of damped oscillators, equal terms merged and
    /// negligible ones dropped, or `None` when it has no such form (squared
    /// exponential, Matern 3/2 and 5/2, spectral mixture) or needs more than
    /// 4096 terms. Periodic kernels expand into harmonics with Bessel weights:
    /// exp(-2 sin^2(pi tau/p)/ell^2) = e^-z (I0(z) + 2 sum_k Ik(z) cos(2 pi k tau/p)), z = 1/ell^2.
    pub fn oscillators(&self) -> Option<Vec<Oscillator>> {
        let osc = |weight: f64, decay: f64, freq: f64| {
            Some(vec![Oscillator {
                weight,
                decay,
                freq,
            }])
        };
        let terms = match self {
            Kernel::Constant { value } => osc(*value, 0.0, 0.0)?,
            Kernel::Matern12 { var, ell } => osc(*var, 1.0 / ell, 0.0)?,
            Kernel::Oscillator { var, decay, freq } => osc(*var, *decay, *freq)?,
            Kernel::Cosine { var, freq } => osc(*var, 0.0, *freq)?,
            Kernel::Periodic { var, ell, period } => {
                let weights = scaled_bessel_series(1.0 / (ell * ell))?;
                weights
                    .iter()
                    .enumerate()
                    .map(|(k, w)| Oscillator {
                        weight: var * w * if k == 0 { 1.0 } else { 2.0 },
                        decay: 0.0,
                        freq: k as f64 / period,
                    })
                    .collect()
            }
            Kernel::SquaredExp { .. }
            | Kernel::Matern32 { .. }
            | Kernel::Matern52 { .. }
            | Kernel::SpectralMixture { .. } => return None,
            Kernel::Sum { terms } => {
                let mut all = Vec::new();
                for k in terms {
                    all.extend(k.oscillators()?);
                }
                all
            }
            Kernel::Product { factors } => {
                let mut acc = osc(1.0, 0.0, 0.0)?;
                for k in factors {
                    acc = multiply(&acc, &k.oscillators()?)?;
                }
                acc
            }
            Kernel::Power { base, exponent } => {
                let b = base.oscillators()?;
                let mut acc = osc(1.0, 0.0, 0.0)?;
                for _ in 0..*exponent {
                    acc = multiply(&acc, &b)?;
                }
                acc
            }
        };
        let merged = merge(terms);
        (merged.len() <= MAX_TERMS).then_some(merged)
    }
}

#[derive(Clone, Copy)]
enum Rule {
    Positive,
    NonNegative,
    Finite,
}

impl Rule {
    fn describe(self) -> &'static str {
        match self {
            Rule::Positive => "a positive number",
            Rule::NonNegative => "a number >= 0",
            Rule::Finite => "a finite number",
        }
    }
}

/// Products of two damped-oscillator sums: cos a cos b = (cos(a-b) + cos(a+b)) / 2.
fn multiply(a: &[Oscillator], b: &[Oscillator]) -> Option<Vec<Oscillator>> {
    let mut out = Vec::with_capacity(2 * a.len() * b.len());
    for x in a {
        for y in b {
            let weight = 0.5 * x.weight * y.weight;
            let decay = x.decay + y.decay;
            out.push(Oscillator {
                weight,
                decay,
                freq: (x.freq - y.freq).abs(),
            });
            out.push(Oscillator {
                weight,
                decay,
                freq: x.freq + y.freq,
            });
        }
    }
    let merged = merge(out);
    (merged.len() <= MAX_TERMS).then_some(merged)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

/// Adds terms of equal decay and frequency; drops negligible ones.
fn merge(mut terms: Vec<Oscillator>) -> Vec<Oscillator> {
    terms.sort_by(|x, y| x.decay.total_cmp(&y.decay).then(x.freq.total_cmp(&y.freq)));
    let mut out: Vec<Oscillator> = Vec::with_capacity(terms.len());
    for t in terms {
        match out.last_mut() {
            Some(last) if close(last.decay, t.decay) && close(last.freq, t.freq) => {
                last.weight += t.weight
            }
            _ => out.push(t),
        }
    }
    let largest = out.iter().map(|t| t.weight.abs()).fold(0.0, f64::max);
    out.retain(|t| t.weight.abs() > NEGLIGIBLE_WEIGHT * largest);
    out
}

/// e^-z I_k(z) for k = 0, 1, ... until negligible, by Miller's backward
/// recurrence normalised with e^-z (I0 + 2 sum Ik) = 1.
pub fn scaled_bessel_series(z: f64) -> Option<Vec<f64>> {
    if !(z.is_finite() && z > 0.0) {
        return None;
    }
    let start = (40.0 + 2.0 * z + 20.0 * z.sqrt()).ceil() as usize;
    if start > 4 * MAX_TERMS {
        return None;
    }
    let mut values = vec![0.0; start + 2];
    values[start] = 1e-300;
    for k in (1..=start).rev() {
        values[k - 1] = values[k + 1] + (2.0 * k as f64 / z) * values[k];
        if values[k - 1] > 1e250 {
            values.iter_mut().for_each(|v| *v *= 1e-250);
        }
    }
    let norm = values[0] + 2.0 * values[1..].iter().sum::<f64>();
    let mut out: Vec<f64> = values.iter().map(|v| v / norm).collect();
    while out.len() > 1 && out.last().is_some_and(|&v| v < 1e-17 * out[0]) {
        out.pop();
    }
    (out.len() <= MAX_TERMS).then_some(out)
}

impl std::fmt::Display for Kernel {
    /// The text form, which [`super::parse_kernel`] reads back to the same kernel.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |f: &mut std::fmt::Formatter<'_>, list: &[Kernel], op: &str| {
            write!(f, "(")?;
            for (i, k) in list.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{k}")?;
            }
            write!(f, ")")
        };
        match self {
            Kernel::Constant { value } if *value < 0.0 => write!(f, "({value})"),
            Kernel::Constant { value } => write!(f, "{value}"),
            Kernel::Sum { terms } => join(f, terms, "+"),
            Kernel::Product { factors } => join(f, factors, "*"),
            Kernel::Power { base, exponent } => write!(f, "({base})^{exponent}"),
            _ => {
                write!(f, "{}(", self.name())?;
                for (i, (param, value, _)) in self.parameter_rules().iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{param}={value}")?;
                }
                write!(f, ")")
            }
        }
    }
}
