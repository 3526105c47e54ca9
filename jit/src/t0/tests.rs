//! The instruction table's generated parts: validation by operand class, the slot
//! visitor and the listing.

use super::bytecode::{BcFunc, build, validate};
use super::ops::Op;
use alloc::vec::Vec;

const SRC: &str = r#"
fn sum(a: &[i32], n: i32) -> i32 {
    let s = 0;
    for i in 0..n { s += a[i]; }
    return s;
}
fn twice(a: &[i32], n: i32) -> i32 {
    return sum(a, n) * 2;
}
"#;

fn compiled() -> (Vec<BcFunc>, usize) {
    let m = crate::parse_module("t.bfir", SRC).expect("parse");
    let n = m.funcs.len();
    (build(&m), n)
}

/// The index of the first instruction `pick` selects, in a copy of function `f`.
fn with_op(f: &BcFunc, pick: impl Fn(&Op) -> bool) -> (BcFunc, usize) {
    let at = f.code.iter().position(pick).expect("instruction present");
    (f.clone(), at)
}

#[test]
fn compiled_code_validates() {
    let (fs, n) = compiled();
    assert!(fs.iter().all(|f| validate(f, n)));
}

#[test]
fn each_operand_class_is_checked_against_its_own_limit() {
    let (fs, n) = compiled();
    let (sum, twice) = (&fs[0], &fs[1]);
    // slot: one past the frame
    let (mut f, at) = with_op(sum, |op| matches!(op, Op::LoadI32 { .. }));
    if let Op::LoadI32 { i, .. } = &mut f.code[at] {
        *i = f.nslots;
    }
    assert!(!validate(&f, n));
    // target: one past the code
    let (mut f, at) = with_op(sum, |op| matches!(op, Op::I32Next1 { .. }));
    *f.code[at].target_mut().expect("a branch") = f.code.len() as u32;
    assert!(!validate(&f, n));
    // buffer: one past the frame's buffers
    let (mut f, at) = with_op(sum, |op| matches!(op, Op::LoadI32 { .. }));
    if let Op::LoadI32 { buf, .. } = &mut f.code[at] {
        *buf = f.nbufs + f.tables.len() as u32;
    }
    assert!(!validate(&f, n));
    // function: one past the module
    let (mut f, at) = with_op(twice, |op| matches!(op, Op::Call { .. }));
    if let Op::Call { f: callee, .. } = &mut f.code[at] {
        *callee = n as u32;
    }
    assert!(!validate(&f, n));
    // an immediate is not an index: any value is valid
    let mut f = sum.clone();
    f.code.insert(
        0,
        Op::I32AddImm {
            d: 0,
            a: 0,
            imm: i32::MAX,
        },
    );
    for op in f.code.iter_mut() {
        if let Some(t) = op.target_mut() {
            *t += 1;
        }
    }
    assert!(validate(&f, n));
}

#[test]
fn the_slot_visitor_sees_slots_only() {
    let mut seen = Vec::new();
    let mut op = Op::I32Next {
        v: 1,
        lim: 2,
        step: 3,
        t: 40,
    };
    op.for_each_slot(&mut |s| seen.push(*s));
    assert_eq!(seen, [1, 2, 3]);
    seen.clear();
    let mut op = Op::Call {
        f: 7,
        args: 5,
        d: 6,
    };
    op.for_each_slot(&mut |s| seen.push(*s));
    assert_eq!(seen, [5, 6]);
    seen.clear();
    let mut op = Op::StoreF32 { buf: 9, i: 1, v: 2 };
    op.for_each_slot(&mut |s| seen.push(*s));
    assert_eq!(seen, [1, 2]);
    assert!(op.target_mut().is_none());
}

#[test]
fn the_listing_names_every_operand_by_class() {
    let (fs, _) = compiled();
    let sum = fs[0].listing();
    assert!(sum.contains("load.i32 d=s"), "{sum}");
    assert!(sum.contains(" buf=b0 "), "{sum}");
    assert!(sum.contains("i32.next1 v=s"), "{sum}");
    assert!(sum.contains(" t=@"), "{sum}");
    let twice = fs[1].listing();
    assert!(twice.contains("call f=fn0 args=s"), "{twice}");
    assert!(twice.contains("push_buf buf=b0"), "{twice}");
    assert_eq!(
        twice.lines().filter(|l| !l.starts_with(';')).count(),
        fs[1].code.len()
    );
}
