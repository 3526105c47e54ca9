//! Matvec rows and attention heads split over workers: bit-identical logits
//! and tokens for every worker count and every format; the thread pool
//! runs each index exactly once; a Workers implementation that breaks its
//! contract, a panicking task and a failing op give right results or
//! errors, never wrong results or hangs.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::files;
use tinyllama::synth::Shape;
use tinyllama::{
    Error, Model, OpError, OpResult, Ops, PlainOps, SerialWorkers, Session, ThreadPool, Workers,
};

/// Logits at every position of `tokens` and the greedy continuation after them.
fn run(
    model: &Model,
    workers: &dyn Workers,
    tokens: &[u32],
    steps: usize,
) -> (Vec<Vec<f32>>, Vec<u32>) {
    let n = tokens.len() + steps;
    let mut s = Session::with_workers(model.config, &model.weights, PlainOps, n, workers).unwrap();
    let mut logits = Vec::new();
    let mut generated = Vec::new();
    let mut token = tokens[0];
    for pos in 0..n - 1 {
        let l = s.forward(token, pos).unwrap();
        logits.push(l.to_vec());
        let next = tinyllama::sampler::argmax(l);
        token = match tokens.get(pos + 1) {
            Some(&t) => t,
            None => {
                generated.push(next);
                next
            }
        };
    }
    (logits, generated)
}

/// Runs the tasks itself, in reverse order: a deterministic multi-worker
/// implementation that needs no threads.
struct Reversed(usize);

impl Workers for Reversed {
    fn count(&self) -> usize {
        self.0
    }
    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        for i in (0..self.0).rev() {
            task(i);
        }
    }
}

#[test]
fn every_worker_count_gives_bit_identical_logits_and_tokens() {
    let pools: Vec<ThreadPool> = (1..=3).map(|n| ThreadPool::new(n).unwrap()).collect();
    for shape in [Shape::Tiny, Shape::Gqa] {
        let f = files(shape, 12, false);
        let prompt = f.tokenizer.encode("Once upon a time", true, false).unwrap();
        for (label, bytes, _) in &f.models {
            let m = Model::load(bytes).unwrap();
            let reference = run(&m, &SerialWorkers, &prompt, 10);
            let mut others: Vec<(String, &dyn Workers)> = pools
                .iter()
                .map(|p| (format!("{} threads", p.count()), p as &dyn Workers))
                .collect();
            let reversed = [Reversed(5), Reversed(300)];
            for r in &reversed {
                others.push((format!("{} reversed tasks", r.0), r));
            }
            for (name, workers) in others {
                let got = run(&m, workers, &prompt, 10);
                assert!(
                    got == reference,
                    "{shape:?} {label}: {name} differ from one worker"
                );
            }
        }
    }
}

#[test]
fn the_pool_runs_every_index_exactly_once() {
    for n in [1, 2, 3, 8] {
        let pool = ThreadPool::new(n).unwrap();
        assert_eq!(pool.count(), n);
        let counts: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..20_000 {
            pool.run(&|i| {
                counts[i].fetch_add(1, Ordering::Relaxed);
            });
        }
        for (i, c) in counts.iter().enumerate() {
            assert_eq!(c.load(Ordering::Relaxed), 20_000, "{n} workers: index {i}");
        }
    }
    // Two threads sharing one pool take turns.
    let pool = ThreadPool::new(3).unwrap();
    let total = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..2000 {
                    pool.run(&|_| {
                        total.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
        }
    });
    assert_eq!(total.load(Ordering::Relaxed), 2 * 2000 * 3);
}

#[test]
fn a_panicking_task_reaches_the_caller_and_the_pool_still_works() {
    let pool = ThreadPool::new(3).unwrap();
    for bad in 0..3 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(&|i| {
                if i == bad {
                    panic!("task {i} fails");
                }
            })
        }));
        let payload = r.unwrap_err();
        let msg = payload.downcast_ref::<String>().unwrap();
        assert_eq!(msg, &format!("task {bad} fails"));
    }
    let seen = Mutex::new(Vec::new());
    pool.run(&|i| seen.lock().unwrap().push(i));
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
}

/// Claims `count` workers but runs only the given indices, in that order.
struct Broken {
    count: usize,
    indices: Vec<usize>,
}

impl Workers for Broken {
    fn count(&self) -> usize {
        self.count
    }
    fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        for &i in &self.indices {
            task(i);
        }
    }
}

#[test]
fn workers_that_skip_or_repeat_tasks_still_give_the_same_results() {
    let f = files(Shape::Tiny, 2, true);
    let m = Model::load(&f.models[0].1).unwrap();
    let mut serial = Session::new(m.config, &m.weights, PlainOps, 8).unwrap();
    let expected = serial.forward(1, 0).unwrap().to_vec();
    // Tasks claim chunks until none are left: any task that runs takes over
    // the work of those that do not; a repeated index gets nothing to do.
    for indices in [
        vec![0],
        vec![1],
        vec![1, 0],
        vec![0, 1, 1],
        vec![0, 0, 1],
        vec![1, 7, 0],
    ] {
        let w = Broken { count: 2, indices };
        let mut s = Session::with_workers(m.config, &m.weights, PlainOps, 8, &w).unwrap();
        assert_eq!(s.forward(1, 0).unwrap(), &expected[..], "{:?}", w.indices);
    }
    // No task at all: nothing was computed, and that is an error.
    for indices in [vec![], vec![7]] {
        let w = Broken { count: 2, indices };
        let mut s = Session::with_workers(m.config, &m.weights, PlainOps, 8, &w).unwrap();
        let e = s.forward(1, 0).unwrap_err();
        assert!(matches!(e, Error::Workers { .. }), "{:?}: {e}", w.indices);
        assert!(e.to_string().contains("not all computed"), "{e}");
    }
}

/// PlainOps whose matvec fails on the part that holds the classifier's
/// last row, or whose attention fails on the last head: an error in the
/// last worker's part (the whole op with one worker).
struct FailsInAPart {
    /// Address just past the classifier's values.
    classifier_end: Option<usize>,
}

impl Ops for FailsInAPart {
    fn matvec(&self, o: &mut [f32], w: &[f32], x: &[f32], r: usize, c: usize) -> OpResult {
        if self.classifier_end == Some(w.as_ptr_range().end as usize) {
            return Err(OpError {
                op: "matvec",
                reason: String::from("trap in a part"),
            });
        }
        PlainOps.matvec(o, w, x, r, c)
    }
    fn matvec_f16(&self, o: &mut [f32], w: &[u16], x: &[f32], r: usize, c: usize) -> OpResult {
        PlainOps.matvec_f16(o, w, x, r, c)
    }
    fn matvec_q8(
        &self,
        o: &mut [f32],
        wq: &[i8],
        ws: &[f32],
        xq: &[i8],
        xs: &[f32],
        r: usize,
        c: usize,
        g: usize,
    ) -> OpResult {
        PlainOps.matvec_q8(o, wq, ws, xq, xs, r, c, g)
    }
    fn rmsnorm(&self, o: &mut [f32], x: &[f32], w: &[f32], eps: f32) -> OpResult {
        PlainOps.rmsnorm(o, x, w, eps)
    }
    fn softmax(&self, x: &mut [f32]) -> OpResult {
        PlainOps.softmax(x)
    }
    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], hs: usize) -> OpResult {
        PlainOps.rope(x, cos, sin, hs)
    }
    fn swiglu(&self, g: &mut [f32], u: &[f32]) -> OpResult {
        PlainOps.swiglu(g, u)
    }
    fn attention(
        &self,
        o: &mut [f32],
        q: &[f32],
        k: &[f32],
        v: &[f32],
        s: &mut [f32],
        n: usize,
        hs: usize,
        stride: usize,
        off: usize,
    ) -> OpResult {
        if self.classifier_end.is_none() && off == stride - hs {
            return Err(OpError {
                op: "attention",
                reason: String::from("trap in the last head"),
            });
        }
        PlainOps.attention(o, q, k, v, s, n, hs, stride, off)
    }
}

#[test]
fn an_op_error_in_any_part_stops_the_forward_pass() {
    let f = files(Shape::Tiny, 2, true);
    let m = Model::load(&f.models[0].1).unwrap();
    let pool = ThreadPool::new(3).unwrap();
    let tinyllama::Tensor::F32(cls) = m.weights.classifier() else {
        panic!("an fp32 model")
    };
    let end = Some(cls.as_ptr_range().end as usize);
    for (classifier_end, op) in [(end, "matvec"), (None, "attention")] {
        for workers in [&pool as &dyn Workers, &SerialWorkers] {
            let ops = FailsInAPart { classifier_end };
            let mut s = Session::with_workers(m.config, &m.weights, ops, 8, workers).unwrap();
            match s.forward(1, 0) {
                Err(Error::Op { op: o, .. }) => assert_eq!(o, op),
                other => panic!("{op} with {} workers: {other:?}", workers.count()),
            }
        }
    }
}
