//! Scoring rounds of many encoders gathered into shared GPU submissions.
//!
//! When a collection is encoded, several files are in flight at once, each
//! on its own CPU thread (decoding, analysis, least squares, writing). Their
//! matching-pursuit rounds all need the same three scoring kernels, so
//! instead of each thread submitting and waiting on its own, every
//! [`ScoreClient`] sends its residual to one [`ScoreService`] thread, which
//! records all the requests waiting at that moment into one command buffer,
//! submits it, and hands each client its picks.
//!
//! The service keeps up to two submissions in flight: while the GPU computes
//! batch k, the requests that arrive are uploaded and recorded as batch k+1,
//! so uploads overlap compute. A batch that fails for lack of GPU memory is
//! retried one request at a time; a request that still fails gets the error
//! (its file is reported, the others go on).

use super::cpu::{FramePick, ScoreShape};
use super::gpu::{GpuScorer, RecordedScore};
use super::pursuit::Scorer;
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

/// Most requests recorded into one submission.
pub const MAX_BATCH: usize = 64;
/// Longest the service waits for more requests before submitting what it has
/// while the GPU is idle (it never waits while a batch is in flight).
const LINGER: Duration = Duration::from_millis(2);

type Reply = SyncSender<Result<Vec<FramePick>>>;

/// One scoring round of one encoder.
struct Request {
    residual: Vec<f32>,
    shape: ScoreShape,
    reply: Reply,
}

/// What the service did.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct BatchStats {
    /// Submissions made.
    pub submissions: usize,
    /// Scoring requests served.
    pub requests: usize,
    /// Most requests in one submission.
    pub largest_batch: usize,
    /// Batches retried one request at a time after a GPU error.
    pub retried_batches: usize,
}

impl BatchStats {
    /// Requests per submission, on average.
    pub fn mean_batch(&self) -> f64 {
        self.requests as f64 / self.submissions.max(1) as f64
    }
}

/// A [`Scorer`] whose rounds are scored by a [`ScoreService`].
#[derive(Clone)]
pub struct ScoreClient {
    sender: Sender<Request>,
}

impl Scorer for ScoreClient {
    fn score(&mut self, residual: &[f32], shape: &ScoreShape) -> Result<Vec<FramePick>> {
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let request = Request {
            residual: residual.to_vec(),
            shape: *shape,
            reply,
        };
        let stopped = || Error::Gpu("the scoring service has stopped".into());
        self.sender.send(request).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

/// The thread that batches scoring requests (see the module docs).
pub struct ScoreService<'a> {
    scorer: GpuScorer<'a>,
    requests: Receiver<Request>,
    stats: BatchStats,
}

/// One submitted batch, awaiting read-back.
struct InFlight<'a> {
    submission: wgpu::SubmissionIndex,
    recorded: Vec<RecordedScore<'a>>,
    replies: Vec<Reply>,
}

/// A service and its first client; clone the client for every encoder. The
/// service's [`ScoreService::run`] returns once every client is gone.
pub fn service(scorer: GpuScorer<'_>) -> (ScoreService<'_>, ScoreClient) {
    let (sender, requests) = std::sync::mpsc::channel();
    let service = ScoreService {
        scorer,
        requests,
        stats: BatchStats::default(),
    };
    (service, ScoreClient { sender })
}

impl<'a> ScoreService<'a> {
    /// Serves requests until every client has been dropped.
    pub fn run(mut self) -> BatchStats {
        let mut in_flight: VecDeque<InFlight<'a>> = VecDeque::new();
        loop {
            let Some(batch) = self.gather(!in_flight.is_empty()) else {
                break;
            };
            let gathered = batch.len();
            if gathered > 0
                && let Some(submitted) = self.submit(batch)
            {
                in_flight.push_back(submitted);
            }
            // Read back the oldest batch once a newer one is queued behind it
            // (the newer one computes meanwhile), or when nothing new came.
            if in_flight.len() >= 2 || (gathered == 0 && !in_flight.is_empty()) {
                let done = in_flight.pop_front().expect("a batch in flight");
                self.answer(done);
            }
        }
        for done in in_flight {
            self.answer(done);
        }
        self.stats
    }

    /// The requests to record next: blocks for the first one only when no
    /// batch is in flight (then lingers briefly for company). `None` once
    /// every client is gone and nothing is waiting.
    fn gather(&self, busy: bool) -> Option<Vec<Request>> {
        let mut batch = Vec::new();
        if !busy {
            batch.push(self.requests.recv().ok()?);
            let deadline = Instant::now() + LINGER;
            while batch.len() < MAX_BATCH {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.requests.recv_timeout(left) {
                    Ok(r) => batch.push(r),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            return Some(batch);
        }
        while batch.len() < MAX_BATCH {
            match self.requests.try_recv() {
                Ok(r) => batch.push(r),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        Some(batch)
    }

    /// Records and submits `batch`; on a GPU error, retries it one request at
    /// a time (those are answered at once).
    fn submit(&mut self, batch: Vec<Request>) -> Option<InFlight<'a>> {
        match self.record(&batch) {
            Ok((submission, recorded)) => {
                self.count(batch.len());
                Some(InFlight {
                    submission,
                    recorded,
                    replies: batch.into_iter().map(|r| r.reply).collect(),
                })
            }
            Err(e) if batch.len() == 1 => {
                let _ = batch[0].reply.send(Err(e));
                None
            }
            Err(e) => {
                log::warn!(
                    "scoring {} requests in one submission failed ({e}); retrying them one at a time",
                    batch.len()
                );
                self.stats.retried_batches += 1;
                for request in batch {
                    let answer = self.record(std::slice::from_ref(&request)).and_then(
                        |(submission, recorded)| {
                            self.count(1);
                            Ok(self.scorer.read(&recorded, Some(submission))?.remove(0))
                        },
                    );
                    let _ = request.reply.send(answer);
                }
                None
            }
        }
    }

    fn record(&self, batch: &[Request]) -> Result<(wgpu::SubmissionIndex, Vec<RecordedScore<'a>>)> {
        let requests: Vec<(&[f32], &ScoreShape)> = batch
            .iter()
            .map(|r| (r.residual.as_slice(), &r.shape))
            .collect();
        self.scorer.submit_batch(&requests)
    }

    fn count(&mut self, requests: usize) {
        self.stats.submissions += 1;
        self.stats.requests += requests;
        self.stats.largest_batch = self.stats.largest_batch.max(requests);
    }

    /// Reads a batch back and answers its clients.
    fn answer(&self, done: InFlight<'a>) {
        match self.scorer.read(&done.recorded, Some(done.submission)) {
            Ok(picks) => {
                for (reply, picks) in done.replies.into_iter().zip(picks) {
                    let _ = reply.send(Ok(picks));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for reply in done.replies {
                    let _ = reply.send(Err(Error::Gpu(message.clone())));
                }
            }
        }
    }
}
