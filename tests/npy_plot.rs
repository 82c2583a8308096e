//! Tests of `.npy` reading/writing and of spectrogram pictures.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use wavesplat::Error;
use wavesplat::npy;
use wavesplat::plot::{self, PlotLayout, SpectrogramPicture};

/// A fresh, empty scratch directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wavesplat-npy-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.5 - 3.0).collect()
}

fn assert_decode_error(result: Result<impl std::fmt::Debug, Error>, path: &Path, needle: &str) {
    let err = result.expect_err("corrupt file must not load");
    assert!(matches!(err, Error::Npy { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains(needle), "expected {needle:?} in: {text}");
}

// ------------------------------------------------------------------ npy

#[test]
fn npy_f32_round_trips_in_1d_2d_3d_0d_and_empty_shapes() {
    let dir = scratch_dir("f32");
    for shape in [
        vec![7],
        vec![3, 4],
        vec![2, 3, 5],
        vec![],
        vec![0],
        vec![4, 0, 2],
    ] {
        let n = shape.iter().product();
        let data = ramp(n);
        let path = dir.join(format!("a{}.npy", shape.len()));
        npy::write_f32(&path, &shape, &data).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let header_len = bytes.len() - 4 * n;
        assert_eq!(
            header_len % 64,
            0,
            "data of {shape:?} must start on a 64-byte boundary"
        );
        assert_eq!(bytes[header_len - 1], b'\n');
        assert_eq!(npy::read_f32(&path).unwrap(), (shape, data));
    }
}

#[test]
fn npy_complex64_round_trips_in_1d_2d_3d() {
    let dir = scratch_dir("c8");
    for shape in [vec![5], vec![2, 6], vec![3, 2, 4]] {
        let n: usize = shape.iter().product();
        let data: Vec<[f32; 2]> = (0..n).map(|i| [i as f32, -(i as f32) * 0.25]).collect();
        let path = dir.join(format!("c{}.npy", shape.len()));
        npy::write_complex64(&path, &shape, &data).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len() % 8, 0);
        assert_eq!(npy::read_complex64(&path).unwrap(), (shape, data));
    }
}

#[test]
fn npy_header_is_byte_exact() {
    let path = scratch_dir("header").join("h.npy");
    npy::write_f32(&path, &[3, 4], &ramp(12)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    let mut expected = b"\x93NUMPY\x01\x00".to_vec();
    expected.extend_from_slice(&118u16.to_le_bytes());
    expected.extend_from_slice(dict.as_bytes());
    expected.resize(127, b' ');
    expected.push(b'\n');
    assert_eq!(&bytes[..128], &expected[..]);
    assert_eq!(&bytes[128..132], &(-3.0f32).to_le_bytes());
    assert_eq!(bytes.len(), 128 + 48);

    npy::write_complex64(&path, &[5], &[[0.0, 0.0]; 5]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let dict = "{'descr': '<c8', 'fortran_order': False, 'shape': (5,), }";
    assert_eq!(&bytes[10..10 + dict.len()], dict.as_bytes());
}

#[test]
fn npy_reads_and_reproduces_numpy_written_files() {
    let f32_path = fixture("numpy_f32_2x3.npy");
    let (shape, data) = npy::read_f32(&f32_path).unwrap();
    assert_eq!(shape, [2, 3]);
    assert_eq!(data, [0.0, 1.5, -2.25, 1e-3, 3.4028235e38, -0.0]);
    assert!(data[5].is_sign_negative());

    let c8_path = fixture("numpy_c64_4.npy");
    let (shape, data) = npy::read_complex64(&c8_path).unwrap();
    assert_eq!(shape, [4]);
    assert_eq!(data, [[1.0, 2.0], [0.0, -0.5], [3.25, 0.0], [-1e-7, 1e7]]);

    // Written back, the files are byte for byte what numpy.save wrote.
    let dir = scratch_dir("numpy");
    let out = dir.join("c.npy");
    npy::write_complex64(&out, &shape, &data).unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&c8_path).unwrap()
    );
    let out = dir.join("f.npy");
    let (shape, data) = npy::read_f32(&f32_path).unwrap();
    npy::write_f32(&out, &shape, &data).unwrap();
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&f32_path).unwrap()
    );
}

#[test]
fn npy_accepts_other_spacing_key_order_and_version_2() {
    let path = scratch_dir("variants").join("v.npy");
    let dict = "{\"shape\":(2,),'fortran_order' :False,  'descr':'<f4'}";
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u32 + 1).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(&1.0f32.to_le_bytes());
    bytes.extend_from_slice(&2.0f32.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(npy::read_f32(&path).unwrap(), (vec![2], vec![1.0, 2.0]));
}

#[test]
fn npy_rejects_a_shape_that_does_not_match_the_data() {
    let path = scratch_dir("mismatch").join("m.npy");
    let err = npy::write_f32(&path, &[2, 3], &ramp(5)).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    let err = npy::write_complex64(&path, &[usize::MAX, 2], &[]).unwrap_err();
    assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    assert!(!path.exists());
}

/// A valid 2x3 float32 file with its header dictionary replaced.
fn with_dict(path: &Path, dict: &str, data_bytes: usize) {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16 + 1).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.push(b'\n');
    bytes.resize(bytes.len() + data_bytes, 0);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn npy_corrupt_files_give_clear_errors() {
    let dir = scratch_dir("corrupt");
    let good = dir.join("good.npy");
    npy::write_f32(&good, &[2, 3], &ramp(6)).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let p = dir.join("bad.npy");

    std::fs::write(&p, b"").unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "file ends inside the magic string");
    std::fs::write(&p, b"RIFF\x01\x00\x00\x00WAVEfmt ").unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "magic");
    std::fs::write(&p, &bytes[..40]).unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "past the end of the file");
    std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "truncated");
    std::fs::write(&p, [&bytes[..], &[0u8; 4]].concat()).unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "trailing bytes");
    let mut v9 = bytes.clone();
    v9[6] = 9;
    std::fs::write(&p, v9).unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "version 9.0");
}

#[test]
fn npy_wrong_dtype_order_or_header_gives_errors() {
    let dir = scratch_dir("dtype");
    let p = dir.join("bad.npy");
    npy::write_complex64(&p, &[3], &[[1.0, 2.0]; 3]).unwrap();
    assert_decode_error(
        npy::read_f32(&p),
        &p,
        "dtype '<c8' is not the expected '<f4'",
    );
    npy::write_f32(&p, &[6], &ramp(6)).unwrap();
    assert_decode_error(npy::read_complex64(&p), &p, "dtype '<f4'");

    let cases = [
        (
            "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
            "'>f4'",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
            "'<f8'",
        ),
        (
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            "Fortran",
        ),
        ("{'descr': '<f4', 'shape': (2, 3), }", "no 'fortran_order'"),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
            "dimension",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}",
            "key 'x'",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
            "expected '}'",
        ),
        (
            "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}",
            "expected",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }",
            "truncated",
        ),
    ];
    for (dict, needle) in cases {
        with_dict(&p, dict, 24);
        assert_decode_error(npy::read_f32(&p), &p, needle);
    }
}

#[test]
fn npy_huge_shapes_in_a_small_file_are_rejected_without_allocating() {
    let p = scratch_dir("huge").join("huge.npy");
    let cases = [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904,), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000, 1000000000), }",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
    ];
    for dict in cases {
        with_dict(&p, dict, 16);
        assert!(
            matches!(npy::read_f32(&p), Err(Error::Npy { .. })),
            "{dict}"
        );
    }
    // A header length far beyond the file.
    std::fs::write(&p, b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{").unwrap();
    assert_decode_error(npy::read_f32(&p), &p, "past the end of the file");
}

#[test]
fn npy_missing_file_is_an_io_error() {
    let p = scratch_dir("missing").join("nope.npy");
    assert!(matches!(npy::read_f32(&p), Err(Error::Io { .. })));
}

// ------------------------------------------------------------------ plot

struct Decoded {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Decoded {
    fn open(path: &Path) -> Decoded {
        let file = std::fs::File::open(path).unwrap();
        let mut reader = png::Decoder::new(BufReader::new(file)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        pixels.truncate(info.buffer_size());
        Decoded {
            width: info.width as usize,
            height: info.height as usize,
            pixels,
        }
    }

    fn rgb(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    fn brightness(&self, x: usize, y: usize) -> u32 {
        self.rgb(x, y).iter().map(|&c| c as u32).sum()
    }

    /// Dark (text) pixels in the rectangle `x0..x1, y0..y1`.
    fn ink(&self, x0: usize, x1: usize, y0: usize, y1: usize) -> usize {
        (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .filter(|&(x, y)| self.brightness(x, y) < 150)
            .count()
    }
}

/// `frames x bins` of quiet noise floor with one loud bin in every frame.
fn single_bin(frames: usize, bins: usize, loud_bin: usize) -> Vec<f32> {
    let mut m = vec![1e-3f32; frames * bins];
    (0..frames).for_each(|f| m[f * bins + loud_bin] = 1.0);
    m
}

fn picture(magnitudes: &[f32], frames: usize, bins: usize) -> SpectrogramPicture<'_> {
    SpectrogramPicture {
        magnitudes,
        frames,
        bins,
        sample_rate: 16000,
        hop: 256,
        n_fft: 2 * (bins - 1).max(1),
        title: "test tone".to_string(),
    }
}

/// The plot-area row (image coordinates) whose summed brightness is highest.
fn brightest_row(img: &Decoded, l: &PlotLayout) -> usize {
    let row_sum = |y: usize| -> u32 {
        (l.plot_left..l.plot_left + l.plot_width)
            .map(|x| img.brightness(x, y))
            .sum()
    };
    (l.plot_top..l.plot_top + l.plot_height)
        .max_by_key(|&y| row_sum(y))
        .unwrap()
}

#[test]
fn plot_png_decodes_to_the_documented_size() {
    let dir = scratch_dir("size");
    for (frames, bins, w, h) in [
        (100, 257, 480, 384),
        (900, 450, 900, 450),
        (5000, 2049, 1600, 512),
    ] {
        let mags = single_bin(frames, bins, 3);
        let path = dir.join(format!("{frames}.png"));
        plot::write_spectrogram_png(&path, &picture(&mags, frames, bins)).unwrap();
        let img = Decoded::open(&path);
        let l = PlotLayout::for_size(frames, bins);
        assert_eq!((l.plot_width, l.plot_height), (w, h));
        assert_eq!((img.width, img.height), (l.width, l.height));
        assert_eq!(l.width, plot::MARGIN_LEFT + w + plot::MARGIN_RIGHT);
        assert_eq!(l.height, plot::MARGIN_TOP + h + plot::MARGIN_BOTTOM);
        assert_eq!(
            (l.plot_left, l.plot_top),
            (plot::MARGIN_LEFT, plot::MARGIN_TOP)
        );
    }
}

#[test]
fn plot_single_bin_is_brightest_at_its_frequency_row() {
    let dir = scratch_dir("bin");
    // Fewer bins than rows (stretched), about as many, and more (pooled).
    for (frames, bins, loud) in [
        (300, 129, 32),
        (300, 513, 128),
        (2000, 2049, 1500),
        (300, 513, 0),
    ] {
        let mags = single_bin(frames, bins, loud);
        let pic = picture(&mags, frames, bins);
        let path = dir.join(format!("{bins}-{loud}.png"));
        plot::write_spectrogram_png(&path, &pic).unwrap();
        let img = Decoded::open(&path);
        let l = PlotLayout::for_size(frames, bins);
        let hz = loud as f64 * 16000.0 / pic.n_fft as f64;
        // Bin k fills rows [k, k + 1) * plot_height / bins from the bottom.
        let from_bottom = ((loud as f64 + 0.5) * l.plot_height as f64 / bins as f64) as usize;
        let expected = l.plot_top + l.plot_height - 1 - from_bottom;
        assert_eq!(l.row_of_frequency(&pic, hz), Some(expected));
        let found = brightest_row(&img, &l);
        assert!(
            found.abs_diff(expected) <= 1,
            "bin {loud}/{bins}: row {found}, expected {expected}"
        );
        assert_eq!(
            img.rgb(l.plot_left + l.plot_width / 2, found),
            [252, 253, 191],
            "0 dB is magma's top"
        );
    }
}

#[test]
fn plot_a_loud_frame_is_brightest_at_its_time_column() {
    let (frames, bins) = (3200, 257);
    let mut mags = vec![1e-4f32; frames * bins];
    let loud = 2400;
    mags[loud * bins..(loud + 1) * bins].fill(1.0);
    let path = scratch_dir("frame").join("f.png");
    plot::write_spectrogram_png(&path, &picture(&mags, frames, bins)).unwrap();
    let img = Decoded::open(&path);
    let l = PlotLayout::for_size(frames, bins);
    let y = l.plot_top + l.plot_height / 2;
    let found = (l.plot_left..l.plot_left + l.plot_width)
        .max_by_key(|&x| img.brightness(x, y))
        .unwrap();
    assert_eq!(found, l.plot_left + loud * l.plot_width / frames);
}

#[test]
fn plot_draws_text_in_every_margin() {
    let (frames, bins) = (600, 257);
    let mags = single_bin(frames, bins, 40);
    let path = scratch_dir("text").join("t.png");
    plot::write_spectrogram_png(&path, &picture(&mags, frames, bins)).unwrap();
    let img = Decoded::open(&path);
    let l = PlotLayout::for_size(frames, bins);
    let (right, bottom) = (l.plot_left + l.plot_width, l.plot_top + l.plot_height);
    // Axis title (rotated) and tick labels left of the plot.
    assert!(
        img.ink(0, 40, l.plot_top, bottom) > 50,
        "frequency axis title"
    );
    assert!(
        img.ink(40, l.plot_left - 8, l.plot_top, bottom) > 50,
        "frequency labels"
    );
    // Time labels and title below, title and parameters above.
    assert!(
        img.ink(l.plot_left, right, bottom + 8, bottom + 24) > 50,
        "time labels"
    );
    assert!(
        img.ink(l.plot_left, right, bottom + 24, img.height) > 30,
        "time axis title"
    );
    assert!(
        img.ink(l.plot_left, right, 0, l.plot_top - 4) > 150,
        "title"
    );
    // Colour-bar dB labels.
    assert!(
        img.ink(right + 45, img.width, l.plot_top, bottom) > 50,
        "dB labels"
    );
    // Nothing but background in the far corners.
    assert_eq!(img.rgb(0, 0), [255, 255, 255]);
    assert_eq!(img.rgb(img.width - 1, img.height - 1), [255, 255, 255]);
}

#[test]
fn plot_colour_bar_runs_from_bright_top_to_dark_bottom() {
    let mags = single_bin(10, 10, 2);
    let img = plot::render_spectrogram(&picture(&mags, 10, 10)).unwrap();
    let l = PlotLayout::for_size(10, 10);
    let x = l.plot_left + l.plot_width + 25;
    let at = |y: usize| {
        let i = (y * img.width + x) * 3;
        [img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]]
    };
    assert_eq!(at(l.plot_top), [252, 253, 191]);
    assert_eq!(at(l.plot_top + l.plot_height - 1), [0, 0, 4]);
}

#[test]
fn plot_silence_and_long_titles_render() {
    let mags = vec![0.0f32; 20 * 30];
    let mut pic = picture(&mags, 20, 30);
    pic.title = "a very long title ".repeat(20);
    let img = plot::render_spectrogram(&pic).unwrap();
    assert_eq!(img.pixels.len(), img.width * img.height * 3);
}

#[test]
fn plot_bad_inputs_give_errors_and_no_file() {
    let dir = scratch_dir("bad");
    let path = dir.join("bad.png");
    let mags = single_bin(10, 20, 3);
    let mut nan = mags.clone();
    nan[17] = f32::NAN;
    let mut negative = mags.clone();
    negative[5] = -1.0;
    let ok = picture(&mags, 10, 20);
    let bad = [
        SpectrogramPicture {
            frames: 0,
            magnitudes: &[],
            ..ok.clone()
        },
        SpectrogramPicture {
            bins: 0,
            magnitudes: &[],
            ..ok.clone()
        },
        SpectrogramPicture {
            frames: 11,
            ..ok.clone()
        },
        SpectrogramPicture {
            magnitudes: &mags[1..],
            ..ok.clone()
        },
        SpectrogramPicture {
            hop: 0,
            ..ok.clone()
        },
        SpectrogramPicture {
            sample_rate: 0,
            ..ok.clone()
        },
        SpectrogramPicture {
            n_fft: 0,
            ..ok.clone()
        },
        SpectrogramPicture {
            magnitudes: &negative,
            ..ok.clone()
        },
    ];
    for pic in &bad {
        let err = plot::write_spectrogram_png(&path, pic).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter { .. }), "{err:?}");
    }
    let err = plot::write_spectrogram_png(
        &path,
        &SpectrogramPicture {
            magnitudes: &nan,
            ..ok
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::NonFinite { index: 17, .. }), "{err:?}");
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no temporary file left behind"
    );
}

#[test]
fn plot_unwritable_path_is_an_io_error() {
    let path = scratch_dir("io").join("no/such/dir/p.png");
    let mags = single_bin(4, 4, 1);
    let err = plot::write_spectrogram_png(&path, &picture(&mags, 4, 4)).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn marks_are_drawn_where_their_time_and_frequency_lie() {
    // 1000 frames of hop 100 at 10 kHz: 10 s; bins 0..=512 of n_fft 1024.
    let (frames, bins) = (1000, 513);
    let magnitudes = vec![1e-3f32; frames * bins];
    let pic = SpectrogramPicture {
        magnitudes: &magnitudes,
        frames,
        bins,
        sample_rate: 10_000,
        hop: 100,
        n_fft: 1024,
        title: "marks".into(),
    };
    let mark = plot::Mark {
        seconds: 5.0,
        hz: 2000.0,
        strength: 1.0,
        filled: false,
    };
    let outside = plot::Mark {
        seconds: 20.0,
        ..mark
    };
    let mut image = plot::render_spectrogram(&pic).unwrap();
    let before = image.clone();
    plot::draw_marks(&mut image, &pic, &[mark, outside]);
    let layout = PlotLayout::for_size(frames, bins);
    let cx = layout.plot_left + layout.plot_width / 2;
    let cy = layout.row_of_frequency(&pic, 2000.0).unwrap();
    // A hollow ring of radius 6: its rim is drawn, its centre is not.
    assert_ne!(
        image.get(cx + 6, cy),
        before.get(cx + 6, cy),
        "rim not drawn"
    );
    assert_eq!(
        image.get(cx, cy),
        before.get(cx, cy),
        "centre of a hollow ring drawn"
    );
    let changed = image
        .pixels
        .chunks(3)
        .zip(before.pixels.chunks(3))
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        (20..200).contains(&changed),
        "{changed} pixels changed for one ring"
    );
}
