//! The kernel expression syntax (documented in README.md, "Gaussian processes"):
//!
//! ```text
//! expr    := term (('+' | '-') term)*
//! term    := unary (('*' | '/') unary)*        (division by a number only)
//! unary   := '-' unary | power
//! power   := primary ('^' INTEGER)?
//! primary := NUMBER | NAME '(' [NAME '=' VALUE (',' NAME '=' VALUE)*] ')' | '(' expr ')'
//! VALUE   := ['-'] NUMBER [unit]    units: s, ms, us (times), Hz, kHz (frequencies)
//! ```
//!
//! Times are in seconds and frequencies in Hz unless a unit says otherwise.
//! Every error carries the character position it was found at.

use super::kernel::{Kernel, MAX_EXPONENT};
use crate::error::{Error, Result};

/// Parses kernel expression text, e.g. `matern12(ell=0.39) * (2*periodic(ell=1, period=3.787ms) - 1)`.
pub fn parse_kernel(text: &str) -> Result<Kernel> {
    let mut p = Parser {
        text,
        chars: text.chars().collect(),
        pos: 0,
    };
    p.skip_space();
    if p.at_end() {
        return Err(p.error(0, "empty kernel text"));
    }
    let kernel = p.expr()?;
    p.skip_space();
    if !p.at_end() {
        return Err(p.error(p.pos, &format!("unexpected {:?}", p.chars[p.pos])));
    }
    Ok(kernel)
}

/// What each kernel name takes: (parameter, kind, required).
fn signature(name: &str) -> Option<&'static [(&'static str, Kind, bool)]> {
    use Kind::*;
    Some(match name {
        "se" | "matern12" | "matern32" | "matern52" => {
            &[("var", Plain, false), ("ell", Time, true)]
        }
        "periodic" => &[
            ("var", Plain, false),
            ("ell", Plain, true),
            ("period", Time, true),
        ],
        "sm" => &[
            ("weight", Plain, false),
            ("freq", Freq, true),
            ("width", Freq, true),
        ],
        "osc" => &[
            ("var", Plain, false),
            ("decay", Plain, true),
            ("freq", Freq, true),
        ],
        "cos" => &[("var", Plain, false), ("freq", Freq, true)],
        _ => return None,
    })
}

/// Every kernel name the text form knows.
pub const KERNEL_NAMES: &str = "se, periodic, matern12, matern32, matern52, sm, osc, cos";

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// No unit.
    Plain,
    /// Seconds; accepts s, ms, us.
    Time,
    /// Hz; accepts Hz, kHz.
    Freq,
}

struct Parser<'a> {
    text: &'a str,
    chars: Vec<char>,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, at: usize, reason: &str) -> Error {
        Error::KernelSyntax {
            text: self.text.to_string(),
            position: at + 1,
            reason: reason.to_string(),
            marker: " ".repeat(at),
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// Consumes `c` (after spaces) if it is next.
    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<()> {
        if self.eat(c) {
            return Ok(());
        }
        let found = self
            .peek()
            .map_or("the end of the text".to_string(), |c| format!("{c:?}"));
        Err(self.error(self.pos, &format!("expected {what}, found {found}")))
    }

    fn expr(&mut self) -> Result<Kernel> {
        let mut terms = vec![self.term()?];
        loop {
            if self.eat('+') {
                terms.push(self.term()?);
            } else if self.eat('-') {
                terms.push(negate(self.term()?));
            } else {
                break;
            }
        }
        Ok(flatten(terms, true))
    }

    fn term(&mut self) -> Result<Kernel> {
        let mut factors = vec![self.unary()?];
        loop {
            if self.eat('*') {
                factors.push(self.unary()?);
            } else if self.eat('/') {
                self.skip_space();
                let at = self.pos;
                match self.unary()? {
                    Kernel::Constant { value } if value != 0.0 => {
                        factors.push(Kernel::Constant { value: 1.0 / value })
                    }
                    _ => return Err(self.error(at, "divide only by a non-zero number")),
                }
            } else {
                break;
            }
        }
        Ok(flatten(factors, false))
    }

    fn unary(&mut self) -> Result<Kernel> {
        if self.eat('-') {
            return Ok(negate(self.unary()?));
        }
        self.power()
    }

    fn power(&mut self) -> Result<Kernel> {
        let base = self.primary()?;
        if !self.eat('^') {
            return Ok(base);
        }
        self.skip_space();
        let at = self.pos;
        let (value, unit) = self.number()?;
        let exponent = value as u32;
        if !unit.is_empty() || value != exponent as f64 || !(1..=MAX_EXPONENT).contains(&exponent) {
            return Err(self.error(
                at,
                &format!("the exponent must be a whole number from 1 to {MAX_EXPONENT}"),
            ));
        }
        Ok(Kernel::Power {
            base: Box::new(base),
            exponent,
        })
    }

    fn primary(&mut self) -> Result<Kernel> {
        self.skip_space();
        let at = self.pos;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.expr()?;
                self.expect(')', "')'")?;
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let (value, unit) = self.number()?;
                if !unit.is_empty() {
                    return Err(self.error(at, "a constant takes no unit"));
                }
                Ok(Kernel::Constant { value })
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let name = self.word();
                self.call(&name, at)
            }
            Some(c) => Err(self.error(at, &format!("expected a kernel or a number, found {c:?}"))),
            None => Err(self.error(
                at,
                "expected a kernel or a number, found the end of the text",
            )),
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    /// A number with an optional unit word right after it.
    fn number(&mut self) -> Result<(f64, String)> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.pos += 1;
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            if matches!(self.peek(), Some('+' | '-')) {
                self.pos += 1;
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            } else {
                self.pos = save;
            }
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        let value: f64 = digits
            .parse()
            .map_err(|_| self.error(start, &format!("{digits:?} is not a number")))?;
        let unit = self.word();
        Ok((value, unit))
    }

    /// `name(param=value, ...)` after its name.
    fn call(&mut self, name: &str, at: usize) -> Result<Kernel> {
        let Some(params) = signature(name) else {
            return Err(self.error(
                at,
                &format!("unknown kernel {name:?} (known: {KERNEL_NAMES})"),
            ));
        };
        self.expect('(', &format!("'(' after {name}"))?;
        let mut values: Vec<Option<f64>> = vec![None; params.len()];
        if !self.eat(')') {
            loop {
                self.argument(name, params, &mut values)?;
                if self.eat(')') {
                    break;
                }
                self.expect(',', "',' or ')'")?;
            }
        }
        let get = |i: usize| -> Result<f64> {
            let (param, _, required) = params[i];
            match values[i] {
                Some(v) => Ok(v),
                None if !required => Ok(1.0),
                None => Err(self.error(at, &format!("{name} needs {param}=..."))),
            }
        };
        let kernel = match name {
            "se" => Kernel::SquaredExp {
                var: get(0)?,
                ell: get(1)?,
            },
            "matern12" => Kernel::Matern12 {
                var: get(0)?,
                ell: get(1)?,
            },
            "matern32" => Kernel::Matern32 {
                var: get(0)?,
                ell: get(1)?,
            },
            "matern52" => Kernel::Matern52 {
                var: get(0)?,
                ell: get(1)?,
            },
            "periodic" => Kernel::Periodic {
                var: get(0)?,
                ell: get(1)?,
                period: get(2)?,
            },
            "sm" => Kernel::SpectralMixture {
                weight: get(0)?,
                freq: get(1)?,
                width: get(2)?,
            },
            "osc" => Kernel::Oscillator {
                var: get(0)?,
                decay: get(1)?,
                freq: get(2)?,
            },
            _ => Kernel::Cosine {
                var: get(0)?,
                freq: get(1)?,
            },
        };
        kernel.validate().map_err(|e| match e {
            Error::InvalidParameter { reason, .. } => self.error(at, &reason),
            other => other,
        })?;
        Ok(kernel)
    }

    /// One `param=value` of kernel `name`.
    fn argument(
        &mut self,
        name: &str,
        params: &[(&'static str, Kind, bool)],
        values: &mut [Option<f64>],
    ) -> Result<()> {
        self.skip_space();
        let at = self.pos;
        let param = self.word();
        let Some(i) = params.iter().position(|p| p.0 == param) else {
            let known: Vec<&str> = params.iter().map(|p| p.0).collect();
            return Err(self.error(
                at,
                &format!(
                    "{name} has no parameter {param:?} (it takes {})",
                    known.join(", ")
                ),
            ));
        };
        if values[i].is_some() {
            return Err(self.error(at, &format!("{param} given twice")));
        }
        self.expect('=', &format!("'=' after {param}"))?;
        let negative = self.eat('-');
        self.skip_space();
        let value_at = self.pos;
        let (value, unit) = self.number()?;
        let scale = unit_scale(params[i].1, &unit)
            .ok_or_else(|| self.error(value_at, &format!("{param} takes no unit {unit:?}")))?;
        values[i] = Some(if negative { -value } else { value } * scale);
        Ok(())
    }
}

/// The factor a unit multiplies a value of `kind` by, if it applies.
fn unit_scale(kind: Kind, unit: &str) -> Option<f64> {
    match (kind, unit) {
        (_, "") => Some(1.0),
        (Kind::Time, "s") | (Kind::Freq, "Hz") => Some(1.0),
        (Kind::Time, "ms") => Some(1e-3),
        (Kind::Time, "us") => Some(1e-6),
        (Kind::Freq, "kHz") => Some(1e3),
        _ => None,
    }
}

fn negate(k: Kernel) -> Kernel {
    match k {
        Kernel::Constant { value } => Kernel::Constant { value: -value },
        other => flatten(vec![Kernel::Constant { value: -1.0 }, other], false),
    }
}

/// One sum (or product) of `items`, nested sums (products) spliced in; a
/// single item stands alone.
fn flatten(items: Vec<Kernel>, sum: bool) -> Kernel {
    let mut out = Vec::with_capacity(items.len());
    for k in items {
        match k {
            Kernel::Sum { terms } if sum => out.extend(terms),
            Kernel::Product { factors } if !sum => out.extend(factors),
            other => out.push(other),
        }
    }
    if out.len() == 1 {
        return out.pop().expect("one item");
    }
    if sum {
        Kernel::Sum { terms: out }
    } else {
        Kernel::Product { factors: out }
    }
}
