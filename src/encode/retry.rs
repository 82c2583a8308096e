//! A GPU error on one file (out of memory, a validation error) is worth one
//! more try with shorter segments, which need less device memory a window;
//! a lost device is not.

use super::EncodeOptions;
use crate::error::{Error, Result};

fn is_gpu_error(error: &Error) -> bool {
    matches!(error, Error::OutOfMemory(_) | Error::Gpu(_))
}

/// Runs `attempt` with `options`, and once more with half-length segments (less
/// device memory a window) if it fails with a GPU error while the device is
/// still there; the last error otherwise. `input` names the file in the log.
pub fn with_gpu_retry<T>(
    options: EncodeOptions,
    device_lost: impl Fn() -> bool,
    mut attempt: impl FnMut(&EncodeOptions) -> Result<T>,
    input: &std::path::Path,
) -> Result<T> {
    let first = attempt(&options);
    match &first {
        Err(e) if is_gpu_error(e) && !device_lost() => {
            let halved = EncodeOptions {
                segment_seconds: (options.segment_seconds / 2.0).max(0.5),
                ..options
            };
            log::warn!(
                "{}: {e}; retrying with {} s segments",
                input.display(),
                halved.segment_seconds
            );
            attempt(&halved)
        }
        _ => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::path::Path;

    /// Runs with_gpu_retry over `outcomes` (one an attempt); returns the
    /// result and the segment lengths tried.
    fn retried(outcomes: Vec<Result<u32>>, lost: bool) -> (Result<u32>, Vec<f64>) {
        let tried = RefCell::new(Vec::new());
        let mut outcomes = outcomes.into_iter();
        let options = EncodeOptions {
            segment_seconds: 8.0,
            ..EncodeOptions::default()
        };
        let result = with_gpu_retry(
            options,
            || lost,
            |o| {
                tried.borrow_mut().push(o.segment_seconds);
                outcomes.next().expect("no more attempts than outcomes")
            },
            Path::new("x.wav"),
        );
        (result, tried.into_inner())
    }

    fn out_of_memory() -> Error {
        Error::OutOfMemory("test: buffer too big".into())
    }

    #[test]
    fn a_gpu_error_is_retried_once_with_half_length_segments() {
        let (result, tried) = retried(vec![Err(out_of_memory()), Ok(7)], false);
        assert_eq!(result.unwrap(), 7);
        assert_eq!(tried, [8.0, 4.0]);

        let gpu = Error::Gpu("test: validation".into());
        let (result, tried) = retried(vec![Err(gpu), Err(out_of_memory())], false);
        assert!(
            matches!(result, Err(Error::OutOfMemory(_))),
            "the last error"
        );
        assert_eq!(tried, [8.0, 4.0], "and only once");
    }

    #[test]
    fn other_errors_success_and_a_lost_device_are_not_retried() {
        let (result, tried) = retried(vec![Ok(3)], false);
        assert_eq!((result.unwrap(), tried), (3, vec![8.0]));

        let bad = Error::invalid("input", "no samples to encode");
        let (result, tried) = retried(vec![Err(bad)], false);
        assert!(matches!(result, Err(Error::InvalidParameter { .. })));
        assert_eq!(tried, [8.0]);

        let (result, tried) = retried(vec![Err(out_of_memory())], true);
        assert!(matches!(result, Err(Error::OutOfMemory(_))));
        assert_eq!(tried, [8.0], "no retry on a lost device");
    }
}
