//! Spectrogram pictures a person can read: PNG files with the magnitude in dB
//! (relative to the loudest cell, over an 80 dB range) in the magma colormap,
//! a time axis in seconds, a frequency axis in Hz or kHz, a title and a colour
//! bar. Text is drawn with the 8x8 bitmap font of `font8x8`.
//!
//! Layout (see [`PlotLayout`]): the plot area is `frames` pixels wide clamped
//! to [480, 1600] and `bins` pixels high clamped to [384, 512], surrounded by
//! fixed margins ([`MARGIN_LEFT`], [`MARGIN_TOP`], [`MARGIN_RIGHT`],
//! [`MARGIN_BOTTOM`]). When there are more frames (bins) than pixels, each
//! pixel shows the maximum over the frames (bins) it covers, so short events
//! and narrow lines stay visible; when there are fewer, the nearest is shown.
//!
//! Frame `i` is drawn over the time span `[i, i + 1) * hop / sample_rate`
//! seconds; bin `k` is centred on `k * sample_rate / n_fft` Hz, with the lowest
//! bin at the bottom.

use crate::error::{Error, Result, check_finite};
use crate::fsutil::write_atomically;
use std::ops::Range;
use std::path::Path;

/// Range of the colour scale: everything this far below the maximum is black.
pub const DB_RANGE: f32 = 80.0;
/// Plot area width limits in pixels.
pub const PLOT_WIDTH: Range<usize> = 480..1601;
/// Plot area height limits in pixels.
pub const PLOT_HEIGHT: Range<usize> = 384..513;
/// Space left of the plot area: axis title and frequency labels.
pub const MARGIN_LEFT: usize = 96;
/// Space above the plot area: the title and a line of STFT parameters.
pub const MARGIN_TOP: usize = 56;
/// Space right of the plot area: the colour bar and its dB labels.
pub const MARGIN_RIGHT: usize = 104;
/// Space below the plot area: time labels and axis title.
pub const MARGIN_BOTTOM: usize = 56;

const GLYPH: usize = 8;
const TITLE_SCALE: usize = 2;
const TICK_LEN: usize = 5;
const BAR_GAP: usize = 20;
const BAR_WIDTH: usize = 18;
const BACKGROUND: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [25, 25, 25];
const FRAME: [u8; 3] = [70, 70, 70];

/// A magnitude spectrogram to draw.
#[derive(Debug, Clone)]
pub struct SpectrogramPicture<'a> {
    /// Linear magnitudes, `frames x bins`, row-major (one frame after another).
    pub magnitudes: &'a [f32],
    /// Number of STFT frames (time steps).
    pub frames: usize,
    /// Number of frequency bins per frame, bin `k` at `k * sample_rate / n_fft` Hz.
    pub bins: usize,
    /// Sample rate of the analysed signal in Hz.
    pub sample_rate: u32,
    /// Hop between frames in samples.
    pub hop: usize,
    /// FFT length in samples.
    pub n_fft: usize,
    /// Title printed above the plot.
    pub title: String,
}

impl<'a> SpectrogramPicture<'a> {
    /// The picture of a magnitude spectrogram made with `cfg` at `sample_rate`.
    pub fn of(
        spec: &'a crate::stft::Spectrogram,
        cfg: &crate::stft::StftConfig,
        sample_rate: u32,
        title: String,
    ) -> Self {
        SpectrogramPicture {
            magnitudes: &spec.data,
            frames: spec.frames,
            bins: spec.bins,
            sample_rate,
            hop: cfg.hop,
            n_fft: cfg.n_fft,
            title,
        }
    }
}

/// The file name of `path` for a title (empty if it has none).
pub fn file_label(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Where everything lies in the picture, in pixels from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlotLayout {
    /// Width of the whole image.
    pub width: usize,
    /// Height of the whole image.
    pub height: usize,
    /// First column of the plot area.
    pub plot_left: usize,
    /// First row of the plot area.
    pub plot_top: usize,
    /// Width of the plot area.
    pub plot_width: usize,
    /// Height of the plot area.
    pub plot_height: usize,
}

impl PlotLayout {
    /// The layout for a spectrogram of `frames x bins`.
    pub fn for_size(frames: usize, bins: usize) -> PlotLayout {
        let plot_width = frames.clamp(PLOT_WIDTH.start, PLOT_WIDTH.end - 1);
        let plot_height = bins.clamp(PLOT_HEIGHT.start, PLOT_HEIGHT.end - 1);
        PlotLayout {
            width: MARGIN_LEFT + plot_width + MARGIN_RIGHT,
            height: MARGIN_TOP + plot_height + MARGIN_BOTTOM,
            plot_left: MARGIN_LEFT,
            plot_top: MARGIN_TOP,
            plot_width,
            plot_height,
        }
    }

    /// The image row (from the top) on which frequency `hz` is drawn, if it lies
    /// inside the plot area.
    pub fn row_of_frequency(&self, pic: &SpectrogramPicture, hz: f64) -> Option<usize> {
        let y = FreqAxis::new(pic, self.plot_height).pixels_from_bottom(hz);
        (y >= 0.0 && y < self.plot_height as f64)
            .then(|| self.plot_top + self.plot_height - 1 - y as usize)
    }
}

/// An 8-bit RGB image, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `width * height * 3` bytes.
    pub pixels: Vec<u8>,
}

/// Draws the spectrogram and writes it to `path` as an 8-bit RGB PNG
/// (atomically: an interrupted write leaves no partial file).
pub fn write_spectrogram_png(path: &Path, pic: &SpectrogramPicture) -> Result<()> {
    let image = render_spectrogram(pic)?;
    write_png(path, &image)
}

/// A point drawn over a spectrogram: an event at a time and a frequency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mark {
    /// Time of the event, seconds from the start.
    pub seconds: f64,
    /// Frequency of the event, Hz.
    pub hz: f64,
    /// How prominent it is, 0..=1: sets the ring's radius (2 to 6 pixels).
    pub strength: f64,
    /// Hollow ring (a tone) or filled square (a noise burst).
    pub filled: bool,
}

/// Colour of the marks: a cyan that stands out on every step of magma.
const MARK: [u8; 3] = [80, 230, 255];

/// Draws the spectrogram with `marks` over it and writes the PNG atomically.
pub fn write_spectrogram_with_marks(
    path: &Path,
    pic: &SpectrogramPicture,
    marks: &[Mark],
) -> Result<()> {
    let mut image = render_spectrogram(pic)?;
    draw_marks(&mut image, pic, marks);
    write_png(path, &image)
}

/// Draws `marks` over a picture made by [`render_spectrogram`] of `pic`;
/// marks outside the plot area are left out.
pub fn draw_marks(image: &mut RgbImage, pic: &SpectrogramPicture, marks: &[Mark]) {
    let l = PlotLayout::for_size(pic.frames, pic.bins);
    let seconds = (pic.frames * pic.hop) as f64 / pic.sample_rate as f64;
    for mark in marks {
        let x = mark.seconds / seconds * l.plot_width as f64;
        let Some(y) = l.row_of_frequency(pic, mark.hz) else {
            continue;
        };
        if !(0.0..l.plot_width as f64).contains(&x) {
            continue;
        }
        let (cx, cy) = ((l.plot_left as f64 + x) as i64, y as i64);
        let r = 2 + (4.0 * mark.strength.clamp(0.0, 1.0)).round() as i64;
        let inside = |px: i64, py: i64| {
            px >= l.plot_left as i64
                && px < (l.plot_left + l.plot_width) as i64
                && py >= l.plot_top as i64
                && py < (l.plot_top + l.plot_height) as i64
        };
        for dy in -r..=r {
            for dx in -r..=r {
                let d2 = dx * dx + dy * dy;
                let on = if mark.filled {
                    dx.abs() < r && dy.abs() < r
                } else {
                    d2 <= r * r && d2 > (r - 1) * (r - 1)
                };
                if on && inside(cx + dx, cy + dy) {
                    image.set((cx + dx) as usize, (cy + dy) as usize, MARK);
                }
            }
        }
    }
}

/// Draws the spectrogram in memory; the image has the size of
/// [`PlotLayout::for_size`]`(pic.frames, pic.bins)`.
pub fn render_spectrogram(pic: &SpectrogramPicture) -> Result<RgbImage> {
    validate(pic)?;
    let layout = PlotLayout::for_size(pic.frames, pic.bins);
    let mut canvas = RgbImage::new(layout.width, layout.height, BACKGROUND);
    draw_cells(&mut canvas, &layout, pic);
    draw_frame(&mut canvas, &layout);
    draw_time_axis(&mut canvas, &layout, pic);
    draw_freq_axis(&mut canvas, &layout, pic);
    draw_colour_bar(&mut canvas, &layout);
    draw_title(&mut canvas, &layout, pic);
    Ok(canvas)
}

fn validate(pic: &SpectrogramPicture) -> Result<()> {
    if pic.frames == 0 || pic.bins == 0 {
        let (f, b) = (pic.frames, pic.bins);
        return Err(Error::invalid(
            "spectrogram",
            format!("{f} frames x {b} bins: nothing to draw"),
        ));
    }
    let expected = pic.frames.checked_mul(pic.bins);
    if expected != Some(pic.magnitudes.len()) {
        let reason = format!(
            "{} magnitudes given for {} frames x {} bins",
            pic.magnitudes.len(),
            pic.frames,
            pic.bins
        );
        return Err(Error::invalid("spectrogram", reason));
    }
    for (name, value) in [
        ("sample_rate", pic.sample_rate as usize),
        ("hop", pic.hop),
        ("n_fft", pic.n_fft),
    ] {
        if value == 0 {
            return Err(Error::invalid(name, "must be positive to label the axes"));
        }
    }
    check_finite("spectrogram magnitudes", pic.magnitudes)?;
    match pic.magnitudes.iter().position(|&m| m < 0.0) {
        Some(i) => Err(Error::invalid(
            "spectrogram",
            format!(
                "magnitude {i} is negative ({}); expected linear magnitudes",
                pic.magnitudes[i]
            ),
        )),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------- the cells

/// Source indices shown by output pixel `i` of `n_out` when resampling
/// `n_src` items: the items it covers when shrinking, the nearest when growing.
fn source_range(i: usize, n_out: usize, n_src: usize) -> Range<usize> {
    if n_src > n_out {
        (i * n_src / n_out)..((i + 1) * n_src / n_out)
    } else {
        let j = (2 * i + 1) * n_src / (2 * n_out);
        j..j + 1
    }
}

/// The plot area's linear magnitudes, `plot_height` rows (top row = highest
/// frequency) of `plot_width` values each, max-pooled.
fn pooled_cells(pic: &SpectrogramPicture, w: usize, h: usize) -> Vec<f32> {
    let mut cells = vec![0.0f32; w * h];
    let mut column = vec![0.0f32; pic.bins];
    for x in 0..w {
        column.fill(0.0);
        for frame in source_range(x, w, pic.frames) {
            let row = &pic.magnitudes[frame * pic.bins..(frame + 1) * pic.bins];
            column.iter_mut().zip(row).for_each(|(c, &m)| *c = c.max(m));
        }
        for y in 0..h {
            let peak = column[source_range(y, h, pic.bins)]
                .iter()
                .fold(0.0f32, |a, &m| a.max(m));
            cells[(h - 1 - y) * w + x] = peak;
        }
    }
    cells
}

/// Level in dB relative to `max`, mapped to [0, 1] over [`DB_RANGE`].
fn level(magnitude: f32, max: f32) -> f64 {
    if max <= 0.0 || magnitude <= 0.0 {
        return 0.0;
    }
    let db = 20.0 * (magnitude / max).log10();
    (1.0 + db / DB_RANGE).clamp(0.0, 1.0) as f64
}

fn colour(t: f64) -> [u8; 3] {
    let c = colorous::MAGMA.eval_continuous(t);
    [c.r, c.g, c.b]
}

fn draw_cells(canvas: &mut RgbImage, layout: &PlotLayout, pic: &SpectrogramPicture) {
    let (w, h) = (layout.plot_width, layout.plot_height);
    let cells = pooled_cells(pic, w, h);
    let max = pic.magnitudes.iter().fold(0.0f32, |a, &m| a.max(m));
    for (i, &m) in cells.iter().enumerate() {
        let (x, y) = (i % w, i / w);
        canvas.set(
            layout.plot_left + x,
            layout.plot_top + y,
            colour(level(m, max)),
        );
    }
}

fn draw_frame(canvas: &mut RgbImage, l: &PlotLayout) {
    let (x0, y0) = (l.plot_left - 1, l.plot_top - 1);
    let (x1, y1) = (l.plot_left + l.plot_width, l.plot_top + l.plot_height);
    canvas.fill(x0, y0, x1 - x0 + 1, 1, FRAME);
    canvas.fill(x0, y1, x1 - x0 + 1, 1, FRAME);
    canvas.fill(x0, y0, 1, y1 - y0 + 1, FRAME);
    canvas.fill(x1, y0, 1, y1 - y0 + 1, FRAME);
}

// ---------------------------------------------------------------- the axes

/// A step of 1, 2 or 5 times a power of ten giving at most `max_ticks` ticks.
fn nice_step(range: f64, max_ticks: usize) -> f64 {
    let raw = range / max_ticks.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

/// The multiples of `step` in `[lo, hi]`.
fn ticks(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A tick value with as many decimals as the step needs.
fn tick_label(value: f64, step: f64) -> String {
    let decimals = (-step.log10() - 1e-9).ceil().clamp(0.0, 6.0) as usize;
    let value = if value.abs() < step * 1e-6 {
        0.0
    } else {
        value
    };
    format!("{value:.decimals$}")
}

fn draw_time_axis(canvas: &mut RgbImage, l: &PlotLayout, pic: &SpectrogramPicture) {
    let seconds = pic.frames as f64 * pic.hop as f64 / pic.sample_rate as f64;
    let step = nice_step(seconds, l.plot_width / 80);
    let y = l.plot_top + l.plot_height + 1;
    for t in ticks(0.0, seconds, step) {
        let x = l.plot_left + ((t / seconds * l.plot_width as f64) as usize).min(l.plot_width - 1);
        canvas.fill(x, y, 1, TICK_LEN, FRAME);
        let label = tick_label(t, step);
        canvas.text(
            x.saturating_sub(text_width(&label, 1) / 2),
            y + TICK_LEN + 4,
            &label,
            1,
            INK,
        );
    }
    let title = "time (s)";
    let x = l.plot_left + (l.plot_width - text_width(title, 1)) / 2;
    canvas.text(x, y + TICK_LEN + 4 + GLYPH + 14, title, 1, INK);
}

/// Maps frequencies to plot rows: bin `k` fills the pixel rows covering
/// `[k, k + 1) * plot_height / bins` from the bottom, centred on `k * df` Hz.
struct FreqAxis {
    hz_per_bin: f64,
    pixels_per_bin: f64,
    top_hz: f64,
    use_khz: bool,
}

impl FreqAxis {
    fn new(pic: &SpectrogramPicture, plot_height: usize) -> FreqAxis {
        let hz_per_bin = pic.sample_rate as f64 / pic.n_fft as f64;
        let top_hz = (pic.bins as f64 - 0.5) * hz_per_bin;
        FreqAxis {
            hz_per_bin,
            pixels_per_bin: plot_height as f64 / pic.bins as f64,
            top_hz,
            use_khz: top_hz >= 2000.0,
        }
    }

    fn pixels_from_bottom(&self, hz: f64) -> f64 {
        (hz / self.hz_per_bin + 0.5) * self.pixels_per_bin
    }
}

fn draw_freq_axis(canvas: &mut RgbImage, l: &PlotLayout, pic: &SpectrogramPicture) {
    let axis = FreqAxis::new(pic, l.plot_height);
    let unit = if axis.use_khz { 1000.0 } else { 1.0 };
    let step = nice_step(axis.top_hz / unit, l.plot_height / 40);
    for v in ticks(0.0, axis.top_hz / unit, step) {
        let Some(y) = l.row_of_frequency(pic, v * unit) else {
            continue;
        };
        canvas.fill(l.plot_left - 1 - TICK_LEN, y, TICK_LEN, 1, FRAME);
        let label = tick_label(v, step);
        let x = l.plot_left - 1 - TICK_LEN - 4 - text_width(&label, 1);
        canvas.text(x, y.saturating_sub(GLYPH / 2 - 1), &label, 1, INK);
    }
    let title = if axis.use_khz {
        "frequency (kHz)"
    } else {
        "frequency (Hz)"
    };
    let y = l.plot_top + (l.plot_height + text_width(title, 1)) / 2;
    canvas.text_up(20, y, title, 1, INK);
}

fn draw_colour_bar(canvas: &mut RgbImage, l: &PlotLayout) {
    let x0 = l.plot_left + l.plot_width + BAR_GAP;
    let h = l.plot_height;
    for y in 0..h {
        let t = 1.0 - y as f64 / (h - 1) as f64;
        canvas.fill(x0, l.plot_top + y, BAR_WIDTH, 1, colour(t));
    }
    let outline = PlotLayout {
        plot_left: x0,
        plot_width: BAR_WIDTH,
        ..*l
    };
    draw_frame(canvas, &outline);
    let x_tick = x0 + BAR_WIDTH + 1;
    for db in (0..=DB_RANGE as usize).step_by(10) {
        let y = l.plot_top + (db as f32 / DB_RANGE * (h - 1) as f32).round() as usize;
        let labelled = db % 20 == 0;
        canvas.fill(x_tick, y, if labelled { TICK_LEN } else { 3 }, 1, FRAME);
        if labelled {
            let label = if db == 0 {
                "0".to_string()
            } else {
                format!("-{db}")
            };
            canvas.text(
                x_tick + TICK_LEN + 4,
                y.saturating_sub(GLYPH / 2 - 1),
                &label,
                1,
                INK,
            );
        }
    }
    canvas.text(x0, l.plot_top - GLYPH - 8, "dB", 1, INK);
}

fn draw_title(canvas: &mut RgbImage, l: &PlotLayout, pic: &SpectrogramPicture) {
    let room = l.width - l.plot_left - GLYPH;
    let scale = if text_width(&pic.title, TITLE_SCALE) <= room {
        TITLE_SCALE
    } else {
        1
    };
    let title = fit_text(&pic.title, room / (GLYPH * scale));
    canvas.text(l.plot_left, 8, &title, scale, INK);
    if scale == 1 {
        // A long title in the small font: embolden it to set it apart.
        canvas.text(l.plot_left + 1, 8, &title, scale, INK);
    }
    let info = format!(
        "sample rate {} Hz, n_fft {}, hop {}",
        pic.sample_rate, pic.n_fft, pic.hop
    );
    canvas.text(
        l.plot_left,
        8 + GLYPH * TITLE_SCALE + 6,
        &fit_text(&info, room / GLYPH),
        1,
        INK,
    );
}

/// `text` cut to at most `max_chars` characters, ending in "..." when cut.
fn fit_text(text: &str, max_chars: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= max_chars {
        return text.to_string();
    }
    let keep = max_chars.saturating_sub(3);
    chars[..keep].iter().collect::<String>() + "..."
}

// ---------------------------------------------------------------- raster

fn text_width(text: &str, scale: usize) -> usize {
    text.chars().count() * GLYPH * scale
}

/// The 8x8 glyph of `c` (row by row, bit 0 = leftmost pixel); `?` outside ASCII.
fn glyph(c: char) -> [u8; 8] {
    let table = &font8x8::legacy::BASIC_LEGACY;
    table
        .get(c as usize)
        .copied()
        .unwrap_or(table[b'?' as usize])
}

impl RgbImage {
    /// The colour of pixel (x, y).
    pub fn get(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    fn new(width: usize, height: usize, fill: [u8; 3]) -> RgbImage {
        RgbImage {
            width,
            height,
            pixels: fill.repeat(width * height),
        }
    }

    /// Sets one pixel; pixels outside the image are ignored.
    pub fn set(&mut self, x: usize, y: usize, rgb: [u8; 3]) {
        if x < self.width && y < self.height {
            let i = (y * self.width + x) * 3;
            self.pixels[i..i + 3].copy_from_slice(&rgb);
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, rgb: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, rgb);
            }
        }
    }

    /// Draws `text` left to right with its top-left corner at `(x, y)`.
    fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, rgb: [u8; 3]) {
        self.glyphs(text, scale, rgb, |gx, gy| (x + gx, y + gy));
    }

    /// Draws `text` turned a quarter left, reading upwards from its bottom-left
    /// corner at `(x, y)`.
    fn text_up(&mut self, x: usize, y: usize, text: &str, scale: usize, rgb: [u8; 3]) {
        self.glyphs(text, scale, rgb, |gx, gy| (x + gy, y.wrapping_sub(gx)));
    }

    /// Paints each set font pixel at `place(gx, gy)`, where `(gx, gy)` is its
    /// position in upright text.
    fn glyphs<F>(&mut self, text: &str, scale: usize, rgb: [u8; 3], place: F)
    where
        F: Fn(usize, usize) -> (usize, usize),
    {
        for (i, c) in text.chars().enumerate() {
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in (0..GLYPH).filter(|col| bits & (1 << col) != 0) {
                    for (dx, dy) in (0..scale * scale).map(|k| (k % scale, k / scale)) {
                        let gx = (i * GLYPH + col) * scale + dx;
                        let (x, y) = place(gx, row * scale + dy);
                        self.set(x, y, rgb);
                    }
                }
            }
        }
    }
}

fn write_png(path: &Path, image: &RgbImage) -> Result<()> {
    let png_error = |e: png::EncodingError| match e {
        png::EncodingError::IoError(source) => Error::io(path, source),
        other => Error::Encode {
            path: path.to_path_buf(),
            reason: other.to_string(),
        },
    };
    write_atomically(path, |w| {
        let mut encoder = png::Encoder::new(w, image.width as u32, image.height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&image.pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)
    })
}
