//! The GPU renderer: thousands of atoms summed into one output in a gather
//! over time tiles (shaders/atoms.wgsl). The host lists, for every tile of
//! [`TILE`] samples, the atoms that overlap it; each workgroup sums its list.
//!
//! Outputs longer than one storage binding are rendered in windows, and atom
//! lists too large for one binding in groups accumulated into the same window,
//! so neither the number of atoms nor the length of the output is bounded by
//! the device's binding limit.

use super::grad::Gradient;
use super::prepare::{GpuAtom, GpuPartial, PreparedAtoms};
use super::{Atom, prepare};
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, PooledBuffer, dispatch_2d, shader};
use std::ops::Range;

/// Output samples per workgroup (keep in sync with TILE in shaders/atoms.wgsl).
pub const TILE: usize = 256;

/// Most bytes any one table may take, whatever the device allows.
const TABLE_BYTES_CAP: u64 = 256 << 20;

/// Keep in sync with `RenderParams` in shaders/atoms.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct RenderParams {
    out_first: u32,
    out_len: u32,
    groups_x: u32,
    accumulate: u32,
}

/// Renders `atoms` at `rate` into `samples` samples on the GPU (atoms past
/// the end are cut).
pub fn render(ctx: &GpuContext, atoms: &[Atom], rate: u32, samples: usize) -> Result<Vec<f32>> {
    let prepared = prepare(atoms, rate)?;
    render_prepared(ctx, &prepared, samples)
}

/// Renders prepared atoms.
pub fn render_prepared(
    ctx: &GpuContext,
    prepared: &PreparedAtoms,
    samples: usize,
) -> Result<Vec<f32>> {
    if samples > u32::MAX as usize {
        return Err(Error::invalid(
            "output length",
            format!("{samples} samples: at most {} in one render", u32::MAX),
        ));
    }
    let mut out = Vec::with_capacity(samples);
    for window in windows(ctx, samples) {
        let groups = atom_groups(ctx, prepared, &window);
        let job = WindowJob::new(ctx, prepared, window, &groups)?;
        let mut encoder = ctx.encoder("render atoms");
        job.record(&mut encoder);
        let staging = ctx.copy_to_staging(&mut encoder, &job.output)?;
        ctx.submit_and_wait("render atoms", encoder)?;
        out.extend(ctx.read_staging::<f32>(&[&staging])?.remove(0));
    }
    Ok(out)
}

/// Largest table one binding may hold, bytes.
fn table_budget(ctx: &GpuContext) -> u64 {
    ctx.max_binding().min(TABLE_BYTES_CAP)
}

/// The output split into windows that each fit one binding.
fn windows(ctx: &GpuContext, samples: usize) -> Vec<Range<usize>> {
    let per_window = ((table_budget(ctx) / 4) as usize / TILE * TILE).max(TILE);
    (0..samples.max(1))
        .step_by(per_window)
        .map(|first| first..(first + per_window).min(samples))
        .collect()
}

/// Tiles atom `a` covers within `window`, as window-relative tile indices.
fn tiles_of(a: &GpuAtom, window: &Range<usize>) -> Option<Range<usize>> {
    let first = (a.start as usize).max(window.start);
    let end = (a.start as usize + a.len as usize).min(window.end);
    (first < end).then(|| (first - window.start) / TILE..(end - 1 - window.start) / TILE + 1)
}

/// The atoms overlapping `window`, in groups whose tables each fit a binding.
fn atom_groups(ctx: &GpuContext, prepared: &PreparedAtoms, window: &Range<usize>) -> Vec<Vec<u32>> {
    let budget = table_budget(ctx);
    let mut groups = vec![Vec::new()];
    let mut used = [0u64; 4];
    for (i, a) in prepared.atoms.iter().enumerate() {
        let Some(tiles) = tiles_of(a, window) else {
            continue;
        };
        let cost = [
            std::mem::size_of::<GpuAtom>() as u64,
            a.partial_count as u64 * std::mem::size_of::<GpuPartial>() as u64,
            a.knot_count as u64 * 8,
            tiles.len() as u64 * 4,
        ];
        if used.iter().zip(&cost).any(|(u, c)| u + c > budget) && !groups[0].is_empty() {
            groups.push(Vec::new());
            used = [0; 4];
        }
        for (u, c) in used.iter_mut().zip(&cost) {
            *u += c;
        }
        groups.last_mut().expect("a group").push(i as u32);
    }
    groups
}

/// One group's tables, re-based so its partial and knot indices start at 0.
struct GroupTables {
    atoms: Vec<GpuAtom>,
    partials: Vec<GpuPartial>,
    knots: Vec<[f32; 2]>,
    tile_offsets: Vec<u32>,
    tile_atoms: Vec<u32>,
}

fn group_tables(prepared: &PreparedAtoms, window: &Range<usize>, group: &[u32]) -> GroupTables {
    let tiles = window.len().div_ceil(TILE).max(1);
    let mut t = GroupTables {
        atoms: Vec::with_capacity(group.len()),
        partials: Vec::new(),
        knots: Vec::new(),
        tile_offsets: vec![0; tiles + 1],
        tile_atoms: Vec::new(),
    };
    for &i in group {
        let mut a = prepared.atoms[i as usize];
        let partials = a.partial_first as usize..(a.partial_first + a.partial_count) as usize;
        let knots = a.knot_index as usize..(a.knot_index + a.knot_count) as usize;
        a.partial_first = t.partials.len() as u32;
        a.knot_index = t.knots.len() as u32;
        t.partials.extend_from_slice(&prepared.partials[partials]);
        t.knots.extend(prepared.knots[knots].iter().map(knot_f32));
        if let Some(range) = tiles_of(&a, window) {
            for tile in range {
                t.tile_offsets[tile + 1] += 1;
            }
        }
        t.atoms.push(a);
    }
    for tile in 0..tiles {
        t.tile_offsets[tile + 1] += t.tile_offsets[tile];
    }
    let mut fill = t.tile_offsets.clone();
    t.tile_atoms = vec![0; t.tile_offsets[tiles] as usize];
    for (local, a) in t.atoms.iter().enumerate() {
        if let Some(range) = tiles_of(a, window) {
            for tile in range {
                t.tile_atoms[fill[tile] as usize] = local as u32;
                fill[tile] += 1;
            }
        }
    }
    t
}

/// One output window with its atom groups uploaded: record it as often as
/// needed (benchmarks), read `output` after.
pub struct WindowJob<'a> {
    output: PooledBuffer<'a>,
    bytes: u64,
    passes: Vec<(wgpu::BindGroup, (u32, u32))>,
    pipeline: std::sync::Arc<wgpu::ComputePipeline>,
    _buffers: Vec<PooledBuffer<'a>>,
}

impl<'a> WindowJob<'a> {
    fn new(
        ctx: &'a GpuContext,
        prepared: &PreparedAtoms,
        window: Range<usize>,
        groups: &[Vec<u32>],
    ) -> Result<Self> {
        let pipeline = ctx.pipeline("atoms", "render", || shader::ATOMS_WGSL.to_string())?;
        let output = ctx.output_buffer("rendered atoms", (window.len().max(1) * 4) as u64)?;
        let tiles = window.len().div_ceil(TILE).max(1) as u32;
        let (groups_x, groups_y) = dispatch_2d(tiles, ctx.max_groups_per_dimension());
        let mut buffers = Vec::new();
        let mut passes = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            let t = group_tables(prepared, &window, group);
            let params = RenderParams {
                out_first: window.start as u32,
                out_len: window.len() as u32,
                groups_x,
                accumulate: (g > 0) as u32,
            };
            let uploads = [
                ctx.uniform("render params", &params)?,
                ctx.upload("atoms", &nonempty(&t.atoms))?,
                ctx.upload("partials", &nonempty(&t.partials))?,
                ctx.upload("knots", &nonempty(&t.knots))?,
                ctx.upload("tile offsets", &t.tile_offsets)?,
                ctx.upload("tile atoms", &nonempty(&t.tile_atoms))?,
            ];
            let mut entries: Vec<(u32, &PooledBuffer)> = uploads
                .iter()
                .enumerate()
                .map(|(i, b)| (i as u32, b))
                .collect();
            entries.push((6, &output));
            let bind_group = ctx.bind_group("render atoms", &pipeline, &entries)?;
            passes.push((bind_group, (groups_x, groups_y)));
            buffers.extend(uploads);
        }
        let bytes = output.bytes + buffers.iter().map(|b| b.bytes).sum::<u64>();
        Ok(WindowJob {
            output,
            bytes,
            passes,
            pipeline,
            _buffers: buffers,
        })
    }

    /// Records every group's pass, in order (later groups add to earlier ones).
    fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("render atoms"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&self.pipeline);
        for (bind_group, (x, y)) in &self.passes {
            pass.set_bind_group(0, bind_group, &[]);
            pass.dispatch_workgroups(*x, *y, 1);
        }
    }
}

/// A whole render uploaded and ready to be recorded repeatedly (benchmarks).
pub struct RenderJob<'a> {
    windows: Vec<WindowJob<'a>>,
}

impl<'a> RenderJob<'a> {
    /// Uploads everything a render of `prepared` into `samples` samples needs.
    pub fn new(ctx: &'a GpuContext, prepared: &PreparedAtoms, samples: usize) -> Result<Self> {
        let windows = windows(ctx, samples)
            .into_iter()
            .map(|w| {
                let groups = atom_groups(ctx, prepared, &w);
                WindowJob::new(ctx, prepared, w, &groups)
            })
            .collect::<Result<_>>()?;
        Ok(RenderJob { windows })
    }

    /// Records the whole render.
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder) {
        for w in &self.windows {
            w.record(encoder);
        }
    }

    /// Bytes a render reads and writes at least: tables and output once each.
    pub fn bytes_moved(&self) -> u64 {
        self.windows.iter().map(|w| w.bytes).sum()
    }
}

/// Samples of one atom one gradient workgroup sums.
const GRADIENT_CHUNK: u32 = 4096;

/// The physical parameters the gradient kernel needs (keep in sync with
/// `AtomShape` in shaders/atoms.wgsl).
#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct AtomShape {
    f0: f32,
    spacing: f32,
    rolloff: f32,
    brightness: f32,
    closing: f32,
    centre: f32,
    width: f32,
    attack: f32,
    length: f32,
    t60: f32,
    fs: f32,
    _pad: f32,
}

/// dL/dθ of every atom on the GPU (see [`super::grad`]): `prepared` from
/// [`super::prepare_for_gradient`] of `atoms`, `grad_y` = dL/dy over output
/// samples `0..grad_y.len()`. Sums are reduced per workgroup in f32 and
/// across workgroups in f64.
pub fn gradient(
    ctx: &GpuContext,
    prepared: &PreparedAtoms,
    atoms: &[Atom],
    grad_y: &[f32],
) -> Result<Vec<Gradient>> {
    if prepared.atoms.len() != atoms.len() || prepared.knot_grads.len() != prepared.knots.len() {
        return Err(Error::invalid(
            "gradient",
            "the atoms must be prepared with prepare_for_gradient",
        ));
    }
    crate::error::check_finite("loss gradient", grad_y)?;
    let items = gradient_items(prepared, grad_y.len());
    let mut out = vec![[0.0f64; 13]; atoms.len()];
    if items.is_empty() {
        return Ok(out);
    }
    let shapes: Vec<AtomShape> = atoms
        .iter()
        .map(|a| AtomShape {
            f0: a.f0,
            spacing: a.spacing,
            rolloff: a.rolloff,
            brightness: a.brightness,
            closing: a.closing,
            centre: a.noise_centre,
            width: a.noise_width,
            attack: a.attack,
            length: a.length,
            t60: a.t60,
            fs: prepared.rate as f32,
            _pad: 0.0,
        })
        .collect();
    let knot_grads: Vec<[f32; 2]> = prepared
        .knot_grads
        .iter()
        .flat_map(|k| k.iter().map(knot_f32).collect::<Vec<_>>())
        .collect();
    let knots: Vec<[f32; 2]> = prepared.knots.iter().map(knot_f32).collect();
    let budget = table_budget(ctx);
    let bytes = [
        std::mem::size_of_val(grad_y),
        std::mem::size_of_val(knot_grads.as_slice()),
        items.len() * 13 * 4,
    ];
    if bytes.iter().any(|&b| b as u64 > budget) {
        return Err(Error::invalid(
            "gradient",
            format!(
                "tables of {bytes:?} bytes exceed one binding ({budget}): split the signal into segments"
            ),
        ));
    }
    let (groups_x, groups_y) = dispatch_2d(items.len() as u32, ctx.max_groups_per_dimension());
    let params = RenderParams {
        out_first: 0,
        out_len: grad_y.len() as u32,
        groups_x,
        accumulate: 0,
    };
    let pipeline = ctx.pipeline("atoms", "gradient", || shader::ATOMS_WGSL.to_string())?;
    let buffers = [
        ctx.uniform("gradient params", &params)?,
        ctx.upload("atoms", &prepared.atoms)?,
        ctx.upload("partials", &nonempty(&prepared.partials))?,
        ctx.upload("knots", &nonempty(&knots))?,
        ctx.upload("knot gradients", &nonempty(&knot_grads))?,
        ctx.upload("shapes", &shapes)?,
        ctx.upload("loss gradient", grad_y)?,
        ctx.upload("work items", &items)?,
        ctx.output_buffer("gradient sums", (items.len() * 13 * 4) as u64)?,
    ];
    let bindings = [0u32, 1, 2, 3, 7, 8, 9, 10, 11];
    let entries: Vec<(u32, &PooledBuffer)> = bindings.iter().copied().zip(buffers.iter()).collect();
    let bind_group = ctx.bind_group("atom gradient", &pipeline, &entries)?;
    let mut encoder = ctx.encoder("atom gradient");
    {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("atom gradient"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups_x, groups_y, 1);
    }
    let staging = ctx.copy_to_staging(&mut encoder, &buffers[8])?;
    ctx.submit_and_wait("atom gradient", encoder)?;
    let sums = ctx.read_staging::<f32>(&[&staging])?.remove(0);
    for (item, partial) in items.iter().zip(sums.chunks_exact(13)) {
        for (o, v) in out[item[0] as usize].iter_mut().zip(partial) {
            *o += *v as f64;
        }
    }
    Ok(out)
}

/// A knot's (value, slope) pair as the GPU reads it.
fn knot_f32(k: &[f64; 2]) -> [f32; 2] {
    [k[0] as f32, k[1] as f32]
}

/// A table that binds (a binding cannot be empty): `table`, or one zeroed,
/// unused entry when it is empty.
fn nonempty<T: bytemuck::Pod + Default>(table: &[T]) -> Vec<T> {
    if table.is_empty() {
        vec![T::default()]
    } else {
        table.to_vec()
    }
}

/// (atom, first sample, end sample, 0) chunks of every atom's samples that
/// fall inside `0..samples`.
fn gradient_items(prepared: &PreparedAtoms, samples: usize) -> Vec<[u32; 4]> {
    let mut items = Vec::new();
    for (i, a) in prepared.atoms.iter().enumerate() {
        let start = a.start as usize;
        if start >= samples {
            continue;
        }
        let end = (a.len as usize).min(samples - start) as u32;
        for first in (0..end).step_by(GRADIENT_CHUNK as usize) {
            items.push([i as u32, first, (first + GRADIENT_CHUNK).min(end), 0]);
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_structs_match_the_shader_layout() {
        let source = shader::ATOMS_WGSL;
        for (name, size) in [
            ("GpuAtom", std::mem::size_of::<GpuAtom>()),
            ("GpuPartial", std::mem::size_of::<GpuPartial>()),
            ("RenderParams", std::mem::size_of::<RenderParams>()),
            ("AtomShape", std::mem::size_of::<AtomShape>()),
        ] {
            assert_eq!(
                shader::wgsl_struct_size(source, name).unwrap() as usize,
                size,
                "{name}"
            );
        }
    }

    #[test]
    fn tiles_cover_exactly_the_atom_within_the_window() {
        let atom = GpuAtom {
            start: 300,
            len: 600,
            ..Default::default()
        };
        assert_eq!(tiles_of(&atom, &(0..10_000)), Some(1..4));
        assert_eq!(tiles_of(&atom, &(512..10_000)), Some(0..2));
        assert_eq!(tiles_of(&atom, &(900..10_000)), None);
        assert_eq!(tiles_of(&atom, &(0..300)), None);
        assert_eq!(tiles_of(&atom, &(0..301)), Some(1..2));
    }
}
