//! A small regular-expression-to-DFA compiler for the `regex_dfa` kernel's tables.
//!
//! Regular expressions are built as values ([`Re`]), there is no text syntax. The
//! compiler is the classic pipeline: Thompson construction of an NFA, byte equivalence
//! classes (bytes that every NFA edge treats alike share a class), then the subset
//! construction. [`Dfa::search`] makes the automaton for "the line contains a match"
//! (`.* re .*`), whose accepting states are never left, which is what the kernel uses.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// A set of byte values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    /// The empty set.
    pub const EMPTY: ByteSet = ByteSet([0; 4]);
    /// Every byte.
    pub const ANY: ByteSet = ByteSet([u64::MAX; 4]);

    /// The bytes `lo..=hi`.
    pub fn range(lo: u8, hi: u8) -> ByteSet {
        let mut s = ByteSet::EMPTY;
        for b in lo..=hi {
            s.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        s
    }

    /// Whether `b` is in the set.
    pub fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }

    /// The union of two sets.
    pub fn union(self, other: ByteSet) -> ByteSet {
        ByteSet([
            self.0[0] | other.0[0],
            self.0[1] | other.0[1],
            self.0[2] | other.0[2],
            self.0[3] | other.0[3],
        ])
    }
}

/// A regular expression over bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Re {
    /// One byte from the set.
    Set(ByteSet),
    /// The parts one after the other (the empty sequence matches the empty string).
    Cat(Vec<Re>),
    /// Any one of the alternatives (at least one).
    Alt(Vec<Re>),
    /// Zero or more repetitions.
    Star(Box<Re>),
}

impl Re {
    /// The literal byte string `s`.
    pub fn lit(s: &str) -> Re {
        Re::Cat(s.bytes().map(|b| Re::Set(ByteSet::range(b, b))).collect())
    }

    /// One byte in `lo..=hi`.
    pub fn range(lo: u8, hi: u8) -> Re {
        Re::Set(ByteSet::range(lo, hi))
    }

    /// Any byte.
    pub fn any() -> Re {
        Re::Set(ByteSet::ANY)
    }

    /// Zero or more `r`.
    pub fn star(r: Re) -> Re {
        Re::Star(Box::new(r))
    }

    /// One or more `r`.
    pub fn plus(r: Re) -> Re {
        Re::Cat(vec![r.clone(), Re::star(r)])
    }
}

/// The pattern of the catalog's `regex_dfa` workload: a warning or error line that
/// reports a duration in milliseconds, `(WARN|ERROR).*[0-9]+ms`.
pub fn catalog_pattern() -> Re {
    Re::Cat(vec![
        Re::Alt(vec![Re::lit("WARN"), Re::lit("ERROR")]),
        Re::star(Re::any()),
        Re::plus(Re::range(b'0', b'9')),
        Re::lit("ms"),
    ])
}

/// Thompson NFA: state 0.. with epsilon edges and byte-set edges.
#[derive(Default)]
struct Nfa {
    eps: Vec<Vec<usize>>,
    edges: Vec<Vec<(ByteSet, usize)>>,
}

impl Nfa {
    fn state(&mut self) -> usize {
        self.eps.push(Vec::new());
        self.edges.push(Vec::new());
        self.eps.len() - 1
    }

    /// Adds `re` between `from` and `to`.
    fn add(&mut self, re: &Re, from: usize, to: usize) {
        match re {
            Re::Set(set) => self.edges[from].push((*set, to)),
            Re::Cat(parts) => {
                let mut cur = from;
                for (i, part) in parts.iter().enumerate() {
                    let next = if i + 1 == parts.len() {
                        to
                    } else {
                        self.state()
                    };
                    self.add(part, cur, next);
                    cur = next;
                }
                if parts.is_empty() {
                    self.eps[from].push(to);
                }
            }
            Re::Alt(alts) => {
                for alt in alts {
                    self.add(alt, from, to);
                }
            }
            Re::Star(inner) => {
                let hub = self.state();
                self.eps[from].push(hub);
                self.eps[hub].push(to);
                let back = self.state();
                self.add(inner, hub, back);
                self.eps[back].push(hub);
            }
        }
    }

    fn closure(&self, mut set: Vec<usize>) -> Vec<usize> {
        let mut seen = vec![false; self.eps.len()];
        let mut stack = set.clone();
        for &s in &set {
            seen[s] = true;
        }
        while let Some(s) = stack.pop() {
            for &t in &self.eps[s] {
                if !seen[t] {
                    seen[t] = true;
                    set.push(t);
                    stack.push(t);
                }
            }
        }
        set.sort_unstable();
        set
    }
}

/// A deterministic automaton in the table layout of `regex_dfa.bfir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dfa {
    /// The class of every byte value (256 entries).
    pub classes: Vec<u8>,
    /// Number of byte classes (the row width of `table`).
    pub nclasses: usize,
    /// `table[state * nclasses + class]` is the next state.
    pub table: Vec<i32>,
    /// 1 for accepting states.
    pub accept: Vec<u8>,
    /// The initial state.
    pub start: usize,
}

impl Dfa {
    /// The automaton of "contains a match of `re`": `.* re .*`.
    pub fn search(re: &Re) -> Dfa {
        let wrapped = Re::Cat(vec![Re::star(Re::any()), re.clone(), Re::star(Re::any())]);
        Dfa::anchored(&wrapped)
    }

    /// The automaton of `re` matching a whole string.
    pub fn anchored(re: &Re) -> Dfa {
        let mut nfa = Nfa::default();
        let start = nfa.state();
        let end = nfa.state();
        nfa.add(re, start, end);

        // Byte classes: bytes with the same membership in every edge's set.
        let all_sets: Vec<ByteSet> = nfa.edges.iter().flatten().map(|(s, _)| *s).collect();
        let mut class_of_signature: BTreeMap<Vec<bool>, u8> = BTreeMap::new();
        let mut classes = vec![0u8; 256];
        let mut representative: Vec<u8> = Vec::new();
        for b in 0..=255u8 {
            let sig: Vec<bool> = all_sets.iter().map(|s| s.contains(b)).collect();
            let next = class_of_signature.len();
            let class = *class_of_signature.entry(sig).or_insert_with(|| {
                representative.push(b);
                next as u8
            });
            classes[usize::from(b)] = class;
        }
        let nclasses = representative.len();

        // Subset construction.
        let first = nfa.closure(vec![start]);
        let mut ids: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        let mut sets = vec![first.clone()];
        ids.insert(first, 0);
        let mut table = Vec::new();
        let mut i = 0;
        while i < sets.len() {
            for &b in &representative {
                let mut moved: Vec<usize> = Vec::new();
                for &s in &sets[i] {
                    for (set, t) in &nfa.edges[s] {
                        if set.contains(b) && !moved.contains(t) {
                            moved.push(*t);
                        }
                    }
                }
                let target = nfa.closure(moved);
                let id = match ids.get(&target) {
                    Some(&id) => id,
                    None => {
                        sets.push(target.clone());
                        ids.insert(target, sets.len() - 1);
                        sets.len() - 1
                    }
                };
                table.push(id as i32);
            }
            i += 1;
        }
        let accept = sets
            .iter()
            .map(|s| u8::from(s.binary_search(&end).is_ok()))
            .collect();
        Dfa {
            classes,
            nclasses,
            table,
            accept,
            start: 0,
        }
    }

    /// Number of states.
    pub fn states(&self) -> usize {
        self.accept.len()
    }

    /// Runs the automaton over `line` from the start state.
    pub fn accepts(&self, line: &[u8]) -> bool {
        let mut state = self.start;
        for &b in line {
            state = self.table[state * self.nclasses + usize::from(self.classes[usize::from(b)])]
                as usize;
        }
        self.accept[state] != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_pattern_on_crafted_lines() {
        let dfa = Dfa::search(&catalog_pattern());
        let yes: [&[u8]; 5] = [
            b"WARN took 5ms",
            b"x ERROR y 123ms z",
            b"ERRORWARN 0ms",
            b"WARN1ms",
            b"..WARN.. 99msms",
        ];
        let no: [&[u8]; 7] = [
            b"",
            b"INFO took 5ms",
            b"WARN took ms",
            b"5ms WARN",
            b"ERRO 5ms",
            b"WARN 5 ms",
            b"warn 5ms",
        ];
        for l in yes {
            assert!(dfa.accepts(l), "{:?}", core::str::from_utf8(l));
        }
        for l in no {
            assert!(!dfa.accepts(l), "{:?}", core::str::from_utf8(l));
        }
        assert!(dfa.states() < 64);
        assert!(dfa.nclasses < 16);
    }

    #[test]
    fn anchored_star_and_alternation() {
        let dfa = Dfa::anchored(&Re::Cat(vec![
            Re::lit("a"),
            Re::star(Re::Alt(vec![Re::lit("b"), Re::lit("cd")])),
        ]));
        for s in ["a", "ab", "acd", "abcdb"] {
            assert!(dfa.accepts(s.as_bytes()), "{s}");
        }
        for s in ["", "b", "ac", "abc", "aa"] {
            assert!(!dfa.accepts(s.as_bytes()), "{s}");
        }
    }
}
