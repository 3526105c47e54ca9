//! Sampling (greedy, temperature, top-p, seeded) and the prompt → token stream API.

mod common;

use tinyllama::sampler::{Rng, argmax};
use tinyllama::synth::Shape;
use tinyllama::{Model, PlainOps, Sampler, Session, generate};

#[test]
fn greedy_is_argmax() {
    let mut s = Sampler::greedy();
    let mut l = vec![0.1, 3.0, -2.0, 2.9];
    assert_eq!(s.sample(&mut l), 1);
    assert_eq!(argmax(&[1.0, 5.0, 5.0]), 1);
}

#[test]
fn seeded_sampling_is_reproducible_and_follows_the_distribution() {
    let logits = [0.0f32, 1.0, 2.0, 3.0];
    let run = |seed| {
        let mut s = Sampler::new(1.0, 1.0, seed);
        (0..20_000)
            .map(|_| s.sample(&mut logits.clone()))
            .collect::<Vec<u32>>()
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
    let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
    for k in 0..4 {
        let freq = a.iter().filter(|&&t| t == k).count() as f64 / a.len() as f64;
        let p = (logits[k as usize] as f64).exp() / z;
        assert!((freq - p).abs() < 0.015, "token {k}: {freq} vs {p}");
    }
}

#[test]
fn low_temperature_concentrates_high_temperature_spreads() {
    let logits = [0.0f32, 1.0, 2.0, 3.0];
    let count3 = |t: f32| {
        let mut s = Sampler::new(t, 1.0, 1);
        (0..5000)
            .filter(|_| s.sample(&mut logits.clone()) == 3)
            .count()
    };
    assert!(count3(0.1) > 4900);
    assert!(count3(10.0) < 2000);
}

#[test]
fn top_p_only_samples_inside_the_nucleus() {
    // Probabilities of roughly 0.64, 0.24, 0.09, 0.03: top-p 0.8 keeps {3, 2}.
    let logits = [0.0f32, 1.0, 2.0, 3.0];
    let mut s = Sampler::new(1.0, 0.8, 3);
    let mut seen = [0usize; 4];
    for _ in 0..5000 {
        seen[s.sample(&mut logits.clone()) as usize] += 1;
    }
    assert_eq!(seen[0] + seen[1], 0, "{seen:?}");
    assert!(seen[2] > 0 && seen[3] > seen[2]);
}

#[test]
fn rng_is_uniform_enough() {
    let mut r = Rng::new(77);
    let n = 100_000;
    let mean: f64 = (0..n).map(|_| r.next_f32() as f64).sum::<f64>() / n as f64;
    assert!((mean - 0.5).abs() < 0.01);
    let mut r0 = Rng::new(0);
    assert!((0..4).map(|_| r0.next_u32()).any(|v| v != 0));
}

#[test]
fn generate_streams_prompt_then_new_tokens() {
    let f = common::files(Shape::Tiny, 3, true);
    let m = Model::load(&f.models[0].1).unwrap();
    let mut s = Session::new(m.config, &m.weights, PlainOps, 64).unwrap();
    let prompt = "Once upon a time";
    let prompt_ids = f.tokenizer.encode(prompt, true, false).unwrap();
    let mut events = Vec::new();
    let mut text = Vec::new();
    let r = generate(
        &mut s,
        &f.tokenizer,
        &mut Sampler::greedy(),
        prompt,
        10,
        |e| {
            events.push((e.token, e.pos, e.from_prompt));
            text.extend_from_slice(e.text);
            true
        },
    )
    .unwrap();
    assert_eq!(r.prompt_tokens, prompt_ids.len());
    // Prompt tokens after BOS are echoed first, in order.
    let echoed: Vec<u32> = events.iter().filter(|e| e.2).map(|e| e.0).collect();
    assert_eq!(echoed, prompt_ids[1..]);
    assert!(text.starts_with(prompt.as_bytes()));
    let generated: Vec<u32> = events.iter().filter(|e| !e.2).map(|e| e.0).collect();
    assert_eq!(generated.len(), r.generated_tokens);
    assert!(r.generated_tokens <= 10);
    // Greedy generation equals the teacher-forced argmax sequence.
    let expected = common::greedy(&m, &prompt_ids, r.generated_tokens);
    assert_eq!(generated, expected);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.1, i + 1, "positions count up from 1");
    }
}

#[test]
fn generate_stops_on_callback_and_context() {
    let f = common::files(Shape::Tiny, 3, true);
    let m = Model::load(&f.models[0].1).unwrap();
    let mut s = Session::new(m.config, &m.weights, PlainOps, 64).unwrap();
    let mut n = 0;
    generate(
        &mut s,
        &f.tokenizer,
        &mut Sampler::new(1.0, 0.9, 1),
        "a",
        50,
        |_| {
            n += 1;
            n < 3
        },
    )
    .unwrap();
    assert_eq!(n, 3);
    // A context of 6 positions bounds prompt + generation.
    let mut small = Session::new(m.config, &m.weights, PlainOps, 6).unwrap();
    let mut count = 0;
    let r = generate(
        &mut small,
        &f.tokenizer,
        &mut Sampler::greedy(),
        "",
        100,
        |_| {
            count += 1;
            true
        },
    )
    .unwrap();
    assert!(r.hit_eos || count == 6, "{count} events");
}

#[test]
fn generate_stops_at_eos() {
    let f = common::files(Shape::Tiny, 3, false);
    let m = Model::load(&f.models[0].1).unwrap();
    let prompt = "the cat";
    let ids = f.tokenizer.encode(prompt, true, false).unwrap();
    let first = common::greedy(&m, &ids, 1)[0];
    // The same vocabulary, with the first greedy token declared EOS.
    let t = &f.tokenizer;
    let n = t.vocab_size() as u32;
    let tok = tinyllama::Tokenizer::new(
        (0..n).map(|i| t.piece(i).unwrap().to_vec()).collect(),
        (0..n).map(|i| t.score(i).unwrap()).collect(),
        (0..n).map(|i| t.kind(i).unwrap()).collect(),
        1,
        first,
    )
    .unwrap();
    let mut s = Session::new(m.config, &m.weights, PlainOps, 64).unwrap();
    let mut last = None;
    let r = generate(&mut s, &tok, &mut Sampler::greedy(), prompt, 20, |e| {
        last = Some((e.token, e.text.len()));
        true
    })
    .unwrap();
    assert!(r.hit_eos);
    assert_eq!(r.generated_tokens, 1);
    // The EOS event is reported, with no text.
    assert_eq!(last, Some((first, 0)));
}
