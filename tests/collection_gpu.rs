//! The collection scheduler's GPU side: scoring rounds of several encoders
//! batched into shared submissions must give each exactly what it would get
//! alone (sizes kept small: CI runs this on lavapipe).

mod common;

use common::Rng;
use wavesplat::encode::batch;
use wavesplat::encode::collection::{self, CollectionOptions, Status};
use wavesplat::encode::cpu::{FramePick, ScoreShape};
use wavesplat::encode::dictionary::Dictionary;
use wavesplat::encode::gpu::GpuScorer;
use wavesplat::encode::pursuit::Scorer;
use wavesplat::encode::{self, Backend, EncodeOptions, WORKING_RATE};
use wavesplat::events::Form;

/// A sparse-ish random residual of `frames` frames with a random core.
fn residual(rng: &mut Rng, dict: &Dictionary, frames: usize) -> (Vec<f32>, ScoreShape) {
    let bins = dict.bins();
    let data = (0..frames * bins)
        .map(|_| {
            let u = rng.uniform();
            (if u < 0.05 { 10.0 * u } else { 0.01 * u }) as f32
        })
        .collect();
    let core_first = rng.range(0, frames / 2);
    let shape = ScoreShape {
        frames,
        bins,
        core_first,
        core_end: rng.range(core_first + 1, frames),
    };
    (data, shape)
}

fn alone(scorer: &mut GpuScorer, requests: &[(Vec<f32>, ScoreShape)]) -> Vec<Vec<FramePick>> {
    requests
        .iter()
        .map(|(r, shape)| scorer.score(r, shape).unwrap())
        .collect()
}

#[test]
fn one_submission_of_many_rounds_equals_each_round_alone() {
    let Some(ctx) = common::gpu("one_submission_of_many_rounds") else {
        return;
    };
    let mut rng = Rng::fresh("one_submission_of_many_rounds");
    let dict = Dictionary::new(WORKING_RATE);
    let requests: Vec<_> = [5, 40, 17, 3]
        .into_iter()
        .map(|frames| residual(&mut rng, &dict, frames))
        .collect();
    ctx.pool().set_poison(true);
    let mut scorer = GpuScorer::new(ctx, &dict).unwrap();
    let want = alone(&mut scorer, &requests);
    let batch: Vec<(&[f32], &ScoreShape)> = requests
        .iter()
        .map(|(r, shape)| (r.as_slice(), shape))
        .collect();
    let got = scorer.score_batch(&batch).unwrap();
    ctx.pool().set_poison(false);
    assert_eq!(got.len(), requests.len());
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.len(), requests[k].1.frames);
        assert_eq!(g, w, "request {k}");
        assert!(
            g.iter().any(|p| p.score > 0.0),
            "request {k} scored nothing"
        );
    }
}

#[test]
fn the_scoring_service_answers_concurrent_clients_with_their_own_picks() {
    let Some(ctx) = common::gpu("the_scoring_service_answers") else {
        return;
    };
    let mut rng = Rng::fresh("the_scoring_service_answers");
    let dict = Dictionary::new(WORKING_RATE);
    // Three clients, three rounds each, residuals of different sizes.
    let work: Vec<Vec<(Vec<f32>, ScoreShape)>> = (0..3)
        .map(|c| {
            (0..3)
                .map(|r| residual(&mut rng, &dict, 4 + 7 * c + 3 * r))
                .collect()
        })
        .collect();
    let mut scorer = GpuScorer::new(ctx, &dict).unwrap();
    let want: Vec<_> = work.iter().map(|w| alone(&mut scorer, w)).collect();
    let (service, client) = batch::service(scorer);
    let (got, stats) = std::thread::scope(|scope| {
        let service = scope.spawn(move || service.run());
        let clients: Vec<_> = work
            .iter()
            .map(|rounds| {
                let mut client = client.clone();
                scope.spawn(move || {
                    rounds
                        .iter()
                        .map(|(r, shape)| client.score(r, shape).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        drop(client);
        let got: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        (got, service.join().unwrap())
    });
    assert_eq!(got, want);
    assert_eq!(stats.requests, 9);
    assert!(
        stats.submissions <= 9 && stats.largest_batch >= 1,
        "{stats:?}"
    );
    assert_eq!(stats.retried_batches, 0);
}

#[test]
fn a_batched_collection_run_writes_what_encoding_each_file_alone_writes() {
    let Some(ctx) = common::gpu("a_batched_collection_run") else {
        return;
    };
    let dir = common::scratch("collection_gpu");
    let (input, out) = (dir.join("in"), dir.join("out"));
    std::fs::create_dir_all(&input).unwrap();
    let clip = wavesplat::audio::load_mono(
        concat!(env!("CARGO_MANIFEST_DIR"), "/assets/piano_bach_chorale.wav").as_ref(),
        Some(WORKING_RATE),
    )
    .unwrap();
    let seconds = WORKING_RATE as usize;
    let pieces = [
        &clip.samples[0..seconds],
        &clip.samples[3 * seconds..4 * seconds],
    ];
    for (k, piece) in pieces.iter().enumerate() {
        common::write_float_wav(&input.join(format!("part{k}.wav")), WORKING_RATE, piece);
    }
    let encode_options = EncodeOptions {
        budget: encode::Budget::Kbps(2.0),
        segment_seconds: 0.5,
        ..EncodeOptions::default()
    };
    let plan = collection::plan(&input, &out, Form::Compact, None).unwrap();
    let options = CollectionOptions {
        encode: encode_options,
        jobs: 2,
        metrics: false,
        ..CollectionOptions::default()
    };
    let report =
        collection::encode_collection(Backend::Gpu(ctx), &plan, &options, &mut |_| {}).unwrap();
    assert_eq!(report.encoded, 2, "{:?}", report.files);
    let stats = report.batching.unwrap();
    assert!(stats.requests > 0 && stats.submissions <= stats.requests);
    let idle = report.gpu_idle_fraction.unwrap();
    assert!((0.0..1.0).contains(&idle), "{idle}");
    for (k, piece) in pieces.iter().enumerate() {
        let row = &report.files[k];
        assert_eq!(row.status, Status::Encoded);
        let written = wavesplat::events::read(&row.output).unwrap();
        let alone = encode::encode(Backend::Gpu(ctx), piece, WORKING_RATE, &encode_options)
            .unwrap()
            .events;
        assert_eq!(written, alone, "part{k}");
    }
}

#[test]
fn a_failing_batch_is_retried_one_round_at_a_time() {
    let Some(ctx) = common::gpu("a_failing_batch_is_retried") else {
        return;
    };
    let mut rng = Rng::fresh("a_failing_batch_is_retried");
    let dict = Dictionary::new(WORKING_RATE);
    let good: Vec<_> = [6, 9]
        .into_iter()
        .map(|f| residual(&mut rng, &dict, f))
        .collect();
    // A round no GPU can score (no frames): it fails while recording, which
    // fails the whole submission it was batched into.
    let bad = (
        Vec::new(),
        ScoreShape {
            frames: 0,
            ..good[0].1
        },
    );
    let mut scorer = GpuScorer::new(ctx, &dict).unwrap();
    let want = alone(&mut scorer, &good);
    let (service, client) = batch::service(scorer);
    let (answers, stats) = std::thread::scope(|scope| {
        let asks: Vec<_> = [&good[0], &bad, &good[1]]
            .into_iter()
            .map(|(r, shape)| {
                let mut client = client.clone();
                scope.spawn(move || client.score(r, shape))
            })
            .collect();
        drop(client);
        // All three wait in the queue before the service starts: one batch.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let service = scope.spawn(move || service.run());
        let answers: Vec<_> = asks.into_iter().map(|a| a.join().unwrap()).collect();
        (answers, service.join().unwrap())
    });
    assert_eq!(stats.retried_batches, 1, "{stats:?}");
    assert_eq!(answers[0].as_ref().unwrap(), &want[0]);
    assert_eq!(answers[2].as_ref().unwrap(), &want[1]);
    let error = answers[1].as_ref().unwrap_err().to_string();
    assert!(error.contains("segment length"), "{error}");
}
