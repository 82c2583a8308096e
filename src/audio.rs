// TEMPORARY placeholder until the audio module lands.
use crate::error::Result;
pub const DEFAULT_RATE: u32 = 22050;
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}
pub fn load_mono(_p: &std::path::Path, _r: Option<u32>) -> Result<Audio> {
    unimplemented!()
}
