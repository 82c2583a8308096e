//! Adapter choice, device creation, pipeline cache and submission.

use super::buffers::BufferPool;
use super::shader;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to choose the adapter. [`GpuOptions::from_env`] reads the usual wgpu
/// variables: `WGPU_BACKEND` (vulkan, metal, dx12, gl) and `WGPU_ADAPTER_NAME`
/// (a case-insensitive substring of the adapter name).
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Backends to search; `None` means the primary native ones (no GL).
    pub backends: Option<wgpu::Backends>,
    /// Only adapters whose name contains this (case-insensitive).
    pub adapter_name: Option<String>,
    /// Ask for at most this much workgroup memory (bytes); tests use it to
    /// exercise the kernels' 16 KiB fallbacks on devices that have more.
    pub max_workgroup_storage: Option<u32>,
    /// Treat storage bindings as at most this large (bytes), so work is split
    /// into more dispatches; tests use it to exercise chunking.
    pub max_binding: Option<u64>,
    /// Plan FFTs as for a hardware GPU (`Some(false)`) or a software
    /// rasteriser (`Some(true)`) whatever the adapter is; tests use it to run
    /// both plans on one device.
    pub plan_as_software: Option<bool>,
    /// Most samples of a frame one invocation transforms as straight-line
    /// code on CPU rasterisers (see
    /// [`super::fft::FftDevice::generated_up_to`]); `None` reads
    /// [`GENERATED_FFT_ENV`], else [`DEFAULT_GENERATED_FFT`].
    pub generated_fft_up_to: Option<usize>,
    /// `Some(false)`: never use subgroup operations, so generated transforms
    /// keep a whole frame in one invocation (tests use it to run that layout
    /// on lavapipe). By default they are used on CPU rasterisers whose
    /// subgroups have one fixed width.
    pub subgroups: Option<bool>,
}

/// Environment variable overriding how many samples of a frame one
/// invocation may transform as straight-line code on CPU rasterisers: a
/// power of two, or 0 for no straight-line transforms. With lavapipe's
/// 8-wide subgroups a frame spreads over up to 8 invocations, so n_fft up to
/// 8 times this is written out.
pub const GENERATED_FFT_ENV: &str = "WAVESPLAT_GENERATED_FFT";

/// By default 512 samples an invocation: n_fft up to 4096 on lavapipe (each
/// 4096-point pipeline takes about 20 s to compile the first time; Mesa
/// caches it), n_fft 512 on a CPU rasteriser without subgroups.
pub const DEFAULT_GENERATED_FFT: usize = 512;

/// The most [`GENERATED_FFT_ENV`] may ask for: compile time grows about as
/// the square of an invocation's share (about a minute at 1024 samples), so
/// 2048 would take several minutes a pipeline.
pub const MAX_GENERATED_FFT: usize = 1024;

/// The largest straight-line n_fft from `text` ([`GENERATED_FFT_ENV`]'s value).
///
/// # Errors
/// [`Error::InvalidParameter`] naming the variable unless `text` is 0 or a
/// power of two from [`super::fft::MIN_N_FFT`] to [`MAX_GENERATED_FFT`].
pub fn parse_generated_fft(text: &str) -> Result<usize> {
    match text.trim().parse::<usize>() {
        Ok(n) if is_generated_fft_limit(n) => Ok(n),
        _ => Err(not_a_generated_fft_limit(&format!("{text:?}"))),
    }
}

fn is_generated_fft_limit(n: usize) -> bool {
    n == 0 || (n.is_power_of_two() && (super::fft::MIN_N_FFT..=MAX_GENERATED_FFT).contains(&n))
}

fn not_a_generated_fft_limit(value: &str) -> Error {
    Error::invalid(
        GENERATED_FFT_ENV,
        format!(
            "{value} is not 0 or a power of two from {} to {} (larger \
             transforms take minutes to compile)",
            super::fft::MIN_N_FFT,
            MAX_GENERATED_FFT
        ),
    )
}

/// The largest straight-line n_fft `options` ask for, or the environment's.
fn generated_fft_up_to(options: &GpuOptions) -> Result<usize> {
    match options.generated_fft_up_to {
        Some(n) if is_generated_fft_limit(n) => Ok(n),
        Some(n) => Err(not_a_generated_fft_limit(&n.to_string())),
        None => match std::env::var(GENERATED_FFT_ENV) {
            Ok(text) => parse_generated_fft(&text),
            Err(_) => Ok(DEFAULT_GENERATED_FFT),
        },
    }
}

impl GpuOptions {
    /// Options from `WGPU_BACKEND` and `WGPU_ADAPTER_NAME`.
    pub fn from_env() -> Self {
        GpuOptions {
            backends: wgpu::Backends::from_env(),
            adapter_name: std::env::var("WGPU_ADAPTER_NAME")
                .ok()
                .filter(|s| !s.is_empty()),
            ..Default::default()
        }
    }
}

/// What a user needs to know about the adapter that runs the kernels.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    /// True for software rasterisers such as lavapipe / llvmpipe.
    pub is_software: bool,
    pub driver: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    pub timestamp_queries: bool,
    /// The adapter's subgroup widths (least, most) where it has subgroup
    /// operations, else (0, 0).
    pub subgroup_sizes: (u32, u32),
    /// The subgroup width generated FFTs spread frames over (see
    /// [`GpuOptions::subgroups`]), 0 where they do not use subgroups.
    pub fft_subgroup: u32,
}

impl std::fmt::Display for AdapterSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.is_software {
            "CPU (software)"
        } else {
            "GPU"
        };
        writeln!(f, "adapter:   {}", self.name)?;
        writeln!(f, "backend:   {}", self.backend)?;
        writeln!(f, "type:      {} [{}]", kind, self.device_type)?;
        writeln!(f, "driver:    {}", self.driver)?;
        writeln!(f, "limits:")?;
        writeln!(
            f,
            "  max_storage_buffer_binding_size    {}",
            self.max_storage_buffer_binding_size
        )?;
        writeln!(
            f,
            "  max_buffer_size                    {}",
            self.max_buffer_size
        )?;
        writeln!(
            f,
            "  max_compute_workgroup_storage_size {}",
            self.max_compute_workgroup_storage_size
        )?;
        writeln!(
            f,
            "  max_compute_invocations_per_group  {}",
            self.max_compute_invocations_per_workgroup
        )?;
        writeln!(
            f,
            "  max_compute_workgroups_per_dim     {}",
            self.max_compute_workgroups_per_dimension
        )?;
        writeln!(f, "timestamps: {}", self.timestamp_queries)?;
        let (least, most) = self.subgroup_sizes;
        let widths = match (least, most) {
            (0, _) => "none".to_string(),
            _ if least == most => least.to_string(),
            _ => format!("{least} to {most}"),
        };
        write!(f, "subgroups:  {widths}")?;
        if self.fft_subgroup > 0 {
            write!(f, " (generated FFTs spread frames over their lanes)")?;
        }
        Ok(())
    }
}

/// Device, queue, pipeline cache and buffer pool shared by every kernel.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    summary: AdapterSummary,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    pool: BufferPool,
    lost: Arc<Mutex<Option<String>>>,
    busy: Arc<Mutex<BusyClock>>,
    binding_cap: u64,
    plan_as_software: bool,
    generated_fft_up_to: usize,
}

/// Time with GPU work in flight, as the host sees it: from a submission until
/// the queue reports it (and everything before it) done.
#[derive(Default)]
struct BusyClock {
    in_flight: usize,
    since: Option<Instant>,
    total: Duration,
}

impl BusyClock {
    fn submitted(&mut self) {
        if self.in_flight == 0 {
            self.since = Some(Instant::now());
        }
        self.in_flight += 1;
    }

    fn finished(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0
            && let Some(since) = self.since.take()
        {
            self.total += since.elapsed();
        }
    }

    fn seconds(&self) -> f64 {
        let open = self.since.map_or(Duration::ZERO, |s| s.elapsed());
        (self.total + open).as_secs_f64()
    }
}

/// Ranks adapters: hardware before virtual before software.
fn adapter_rank(info: &wgpu::AdapterInfo) -> u32 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn describe_adapters(adapters: &[wgpu::Adapter]) -> String {
    if adapters.is_empty() {
        return "none found".to_string();
    }
    let names: Vec<String> = adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            format!("{} ({:?}, {:?})", i.name, i.backend, i.device_type)
        })
        .collect();
    format!("available: {}", names.join("; "))
}

fn choose_adapter(options: &GpuOptions) -> Result<wgpu::Adapter> {
    let backends = options.backends.unwrap_or(wgpu::Backends::PRIMARY);
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    let all = describe_adapters(&adapters);
    if let Some(wanted) = &options.adapter_name {
        let wanted = wanted.to_lowercase();
        adapters.retain(|a| a.get_info().name.to_lowercase().contains(&wanted));
        if adapters.is_empty() {
            return Err(Error::NoAdapter(format!(
                "no adapter name contains {wanted:?} (WGPU_ADAPTER_NAME); {all}"
            )));
        }
    }
    adapters.sort_by_key(|a| adapter_rank(&a.get_info()));
    adapters.into_iter().next().ok_or_else(|| {
        Error::NoAdapter(format!(
            "no adapter for backends {backends:?}; {all}. On Linux without a GPU install \
             a software Vulkan driver (apt-get install mesa-vulkan-drivers); set \
             WGPU_BACKEND=gl to allow OpenGL explicitly"
        ))
    })
}

/// Default WebGPU limits, raised only where wavesplat gains from it and the
/// adapter allows: big buffers for big batches, 32 KiB of workgroup memory for
/// the 8192-point FFT (kernels fall back to 16 KiB when it is not there).
fn wanted_limits(adapter: &wgpu::Limits, options: &GpuOptions) -> wgpu::Limits {
    let defaults = wgpu::Limits::default();
    let storage_cap = options.max_workgroup_storage.unwrap_or(32 * 1024);
    wgpu::Limits {
        max_storage_buffer_binding_size: adapter.max_storage_buffer_binding_size,
        max_buffer_size: adapter.max_buffer_size,
        max_compute_workgroup_storage_size: adapter
            .max_compute_workgroup_storage_size
            .min(storage_cap.max(defaults.max_compute_workgroup_storage_size)),
        ..defaults
    }
}

fn summarize(adapter: &wgpu::Adapter, limits: &wgpu::Limits, timestamps: bool) -> AdapterSummary {
    let info = adapter.get_info();
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        is_software: info.device_type == wgpu::DeviceType::Cpu,
        driver: format!("{} {}", info.driver, info.driver_info)
            .trim()
            .to_string(),
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
        max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        timestamp_queries: timestamps,
        subgroup_sizes: if adapter.features().contains(wgpu::Features::SUBGROUP) {
            (info.subgroup_min_size, info.subgroup_max_size)
        } else {
            (0, 0)
        },
        fft_subgroup: 0,
    }
}

/// The adapter's subgroup width where it has subgroup operations and every
/// subgroup of a compute shader has that one width (lavapipe: 8), else 0.
fn fixed_subgroup_size(summary: &AdapterSummary) -> u32 {
    let (least, most) = summary.subgroup_sizes;
    if least == most && least >= 2 && least.is_power_of_two() {
        least
    } else {
        0
    }
}

impl GpuContext {
    /// Opens the best adapter allowed by the environment (see [`GpuOptions::from_env`]).
    pub fn new() -> Result<Self> {
        Self::with_options(&GpuOptions::from_env())
    }

    /// Opens the best adapter allowed by `options`.
    pub fn with_options(options: &GpuOptions) -> Result<Self> {
        let generated_fft_up_to = generated_fft_up_to(options)?;
        let adapter = choose_adapter(options)?;
        let limits = wanted_limits(&adapter.limits(), options);
        let timestamps = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
        let mut summary = summarize(&adapter, &limits, timestamps);
        let plan_as_software = options.plan_as_software.unwrap_or(summary.is_software);
        // Generated FFTs spread frames over subgroup lanes (software plans only).
        summary.fft_subgroup = if plan_as_software && options.subgroups != Some(false) {
            fixed_subgroup_size(&summary)
        } else {
            0
        };
        let mut features = wgpu::Features::empty();
        if timestamps {
            features |= wgpu::Features::TIMESTAMP_QUERY;
        }
        if summary.fft_subgroup > 0 {
            features |= wgpu::Features::SUBGROUP;
        }
        let desc = wgpu::DeviceDescriptor {
            label: Some("wavesplat"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&desc))
            .map_err(|e| Error::Device(format!("{}: {e}", adapter.get_info().name)))?;
        log::info!(
            "GPU adapter: {} ({}, {})",
            summary.name,
            summary.backend,
            summary.device_type
        );
        let lost = Arc::new(Mutex::new(None));
        let lost_flag = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            log::error!("GPU device lost ({reason:?}): {message}");
            *lost_flag.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("device lost ({reason:?}): {message}"));
        });
        device.on_uncaptured_error(Arc::new(|e| log::error!("uncaptured GPU error: {e}")));
        Ok(GpuContext {
            device,
            queue,
            summary,
            limits,
            pipelines: Mutex::new(HashMap::new()),
            pool: BufferPool::default(),
            lost,
            busy: Arc::default(),
            binding_cap: options.max_binding.unwrap_or(u64::MAX),
            plan_as_software,
            generated_fft_up_to,
        })
    }

    /// The adapter in use, in words.
    pub fn summary(&self) -> &AdapterSummary {
        &self.summary
    }

    /// The limits the device was opened with.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// Whether pass-level timestamp queries are available.
    pub fn has_timestamps(&self) -> bool {
        self.summary.timestamp_queries
    }

    /// The buffer pool.
    pub fn pool(&self) -> &BufferPool {
        &self.pool
    }

    /// A compute pipeline for `entry` of the shader composed by `source`, built
    /// once per `key` and cached. The shader is validated with naga first so a
    /// bad shader is a clear error rather than a device-side failure.
    pub fn pipeline(
        &self,
        key: &str,
        entry: &str,
        source: impl FnOnce() -> String,
    ) -> Result<Arc<wgpu::ComputePipeline>> {
        let cache_key = format!("{key}#{entry}");
        let mut cache = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = cache.get(&cache_key) {
            return Ok(p.clone());
        }
        let wgsl = source();
        shader::validate_for(key, &wgsl, self.summary.fft_subgroup > 0)?;
        let pipeline = self.catch_errors(key, || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(key),
                    source: wgpu::ShaderSource::Wgsl(wgsl.into()),
                });
            self.device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&cache_key),
                    layout: None,
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: wgpu::PipelineCompilationOptions {
                        // Every kernel writes workgroup memory before reading it.
                        zero_initialize_workgroup_memory: false,
                        ..Default::default()
                    },
                    cache: None,
                })
        })?;
        let pipeline = Arc::new(pipeline);
        cache.insert(cache_key, pipeline.clone());
        Ok(pipeline)
    }

    /// Runs `f` inside out-of-memory and validation error scopes and turns what
    /// they catch into [`Error::OutOfMemory`] or [`Error::Gpu`].
    pub fn catch_errors<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        self.check_lost()?;
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = f();
        let validation = pollster::block_on(validation.pop());
        let oom = pollster::block_on(oom.pop());
        if let Some(e) = oom {
            return Err(Error::OutOfMemory(format!("{what}: {e}")));
        }
        if let Some(e) = validation {
            return Err(Error::Gpu(format!("{what}: {e}")));
        }
        self.check_lost()?;
        Ok(value)
    }

    /// Fails with [`Error::Gpu`] once the device has been lost.
    pub fn check_lost(&self) -> Result<()> {
        match &*self.lost.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(message) => Err(Error::Gpu(message.clone())),
            None => Ok(()),
        }
    }

    /// Submits `encoder` and blocks until the GPU has finished it (only it
    /// and what was submitted before it: other threads' later submissions
    /// keep running), then lets the pool reuse the buffers given back.
    pub fn submit_and_wait(&self, what: &str, encoder: wgpu::CommandEncoder) -> Result<()> {
        let index = self.submit(what, encoder)?;
        self.wait_for(what, index)?;
        self.pool.recycle();
        Ok(())
    }

    /// Submits `encoder` without waiting; [`GpuContext::wait_for`] the index
    /// before reading its results.
    pub fn submit(
        &self,
        what: &str,
        encoder: wgpu::CommandEncoder,
    ) -> Result<wgpu::SubmissionIndex> {
        let index = self.catch_errors(what, || self.queue.submit([encoder.finish()]))?;
        self.busy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .submitted();
        let busy = self.busy.clone();
        self.queue.on_submitted_work_done(move || {
            busy.lock().unwrap_or_else(|e| e.into_inner()).finished();
        });
        Ok(index)
    }

    /// Blocks until submission `index` (and all before it) has finished,
    /// leaving later submissions running.
    pub fn wait_for(&self, what: &str, index: wgpu::SubmissionIndex) -> Result<()> {
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(index),
                timeout: None,
            })
            .map_err(|e| Error::Gpu(format!("{what}: waiting for the GPU: {e}")))?;
        self.check_lost()
    }

    /// Seconds so far with work in flight on this device's queue (from
    /// submission until the host learns it is done: an upper bound on the
    /// time the GPU computed).
    pub fn busy_seconds(&self) -> f64 {
        self.busy
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .seconds()
    }

    /// Blocks until all submitted work is done, then lets the buffer pool
    /// reuse the buffers given back meanwhile.
    pub fn wait(&self, what: &str) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("{what}: waiting for the GPU: {e}")))?;
        self.pool.recycle();
        self.check_lost()
    }

    /// A new command encoder.
    pub fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }

    /// Largest storage binding, in bytes.
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
            .min(self.binding_cap)
    }

    /// Workgroup memory available to one workgroup, in bytes.
    pub fn workgroup_storage(&self) -> u32 {
        self.limits.max_compute_workgroup_storage_size
    }

    /// What this device offers the shared FFT (see [`super::fft::FftDevice`]).
    pub fn fft_device(&self) -> super::fft::FftDevice {
        if self.plan_as_software {
            super::fft::FftDevice {
                generated_up_to: (self.generated_fft_up_to / 2) as u32,
                subgroup_size: self.summary.fft_subgroup,
                ..super::fft::FftDevice::software(self.workgroup_storage())
            }
        } else {
            super::fft::FftDevice::gpu(self.workgroup_storage())
        }
    }

    /// Maximum workgroups in one dispatch dimension.
    pub fn max_groups_per_dimension(&self) -> u32 {
        self.limits.max_compute_workgroups_per_dimension
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_straight_line_fft_limit_is_zero_or_a_supported_size() {
        assert_eq!(parse_generated_fft("1024").unwrap(), 1024);
        assert_eq!(parse_generated_fft(" 16 ").unwrap(), 16);
        assert_eq!(parse_generated_fft("0").unwrap(), 0);
        for bad in ["1000", "8", "2048", "16384", "-1", "", "all"] {
            let e = parse_generated_fft(bad).unwrap_err().to_string();
            assert!(e.contains(GENERATED_FFT_ENV), "{bad}: {e}");
        }
        let asking = |n| GpuOptions {
            generated_fft_up_to: Some(n),
            ..GpuOptions::default()
        };
        assert_eq!(generated_fft_up_to(&asking(256)).unwrap(), 256);
        let e = generated_fft_up_to(&asking(2048)).unwrap_err().to_string();
        assert!(e.contains(GENERATED_FFT_ENV) && e.contains("2048"), "{e}");
    }
}
