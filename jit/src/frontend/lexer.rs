//! Tokenizer for `.bfir` sources.

use super::diag::{Pos, PosError, err};
use super::limits::MAX_MODULE_TOKENS;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    /// Integer literal: magnitude, whether it was written in hex/binary, optional suffix.
    Int {
        value: u128,
        radix_bits: bool,
        suffix: Option<String>,
    },
    /// Float literal text (without suffix) and optional suffix.
    Float {
        text: String,
        suffix: Option<String>,
    },
    // keywords
    Fn,
    Let,
    Mut,
    Const,
    If,
    Else,
    While,
    For,
    In,
    Step,
    Break,
    Continue,
    Return,
    As,
    True,
    False,
    // punctuation
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Semi,
    Colon,
    Arrow,
    DotDot,
    Hash,
    Amp,
    AndAnd,
    Pipe,
    OrOr,
    Caret,
    Bang,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Shl,
    Shr,
    UShr,
    Eq,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// Compound assignment `op=`; holds the operator token.
    OpAssign(BinTok),
    Eof,
}

/// The binary operators that have a compound assignment form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinTok {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    And,
    Or,
    Xor,
    Shl,
    Shr,
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
}

pub fn describe(t: &Tok) -> String {
    use alloc::format;
    match t {
        Tok::Ident(s) => format!("identifier `{s}`"),
        Tok::Int { .. } => String::from("integer literal"),
        Tok::Float { .. } => String::from("float literal"),
        Tok::Eof => String::from("end of file"),
        other => format!("`{}`", spell(other)),
    }
}

fn spell(t: &Tok) -> &'static str {
    match t {
        Tok::Fn => "fn",
        Tok::Let => "let",
        Tok::Mut => "mut",
        Tok::Const => "const",
        Tok::If => "if",
        Tok::Else => "else",
        Tok::While => "while",
        Tok::For => "for",
        Tok::In => "in",
        Tok::Step => "step",
        Tok::Break => "break",
        Tok::Continue => "continue",
        Tok::Return => "return",
        Tok::As => "as",
        Tok::True => "true",
        Tok::False => "false",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Comma => ",",
        Tok::Semi => ";",
        Tok::Colon => ":",
        Tok::Arrow => "->",
        Tok::DotDot => "..",
        Tok::Hash => "#",
        Tok::Amp => "&",
        Tok::AndAnd => "&&",
        Tok::Pipe => "|",
        Tok::OrOr => "||",
        Tok::Caret => "^",
        Tok::Bang => "!",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::Shl => "<<",
        Tok::Shr => ">>",
        Tok::UShr => ">>>",
        Tok::Eq => "=",
        Tok::EqEq => "==",
        Tok::Ne => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::OpAssign(b) => match b {
            BinTok::Add => "+=",
            BinTok::Sub => "-=",
            BinTok::Mul => "*=",
            BinTok::Div => "/=",
            BinTok::Rem => "%=",
            BinTok::And => "&=",
            BinTok::Or => "|=",
            BinTok::Xor => "^=",
            BinTok::Shl => "<<=",
            BinTok::Shr => ">>=",
        },
        _ => "?",
    }
}

struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    line: u32,
    col: u32,
    _src: &'a str,
}

impl Lexer<'_> {
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        "fn" => Tok::Fn,
        "let" => Tok::Let,
        "mut" => Tok::Mut,
        "const" => Tok::Const,
        "if" => Tok::If,
        "else" => Tok::Else,
        "while" => Tok::While,
        "for" => Tok::For,
        "in" => Tok::In,
        "step" => Tok::Step,
        "break" => Tok::Break,
        "continue" => Tok::Continue,
        "return" => Tok::Return,
        "as" => Tok::As,
        "true" => Tok::True,
        "false" => Tok::False,
        _ => return None,
    })
}

/// Splits a source into tokens; also returns the module documentation (`//!` lines).
pub fn tokenize(src: &str) -> Result<(Vec<Token>, String), PosError> {
    let mut lx = Lexer {
        chars: src.chars().collect(),
        i: 0,
        line: 1,
        col: 1,
        _src: src,
    };
    let mut out = Vec::new();
    let mut doc = String::new();
    loop {
        // whitespace and comments
        while let Some(c) = lx.peek(0) {
            if c.is_whitespace() {
                lx.bump();
            } else if c == '/' && lx.peek(1) == Some('/') {
                let module_doc = lx.peek(2) == Some('!');
                let mut text = String::new();
                while let Some(c) = lx.peek(0) {
                    if c == '\n' {
                        break;
                    }
                    text.push(c);
                    lx.bump();
                }
                if module_doc {
                    doc.push_str(text[3..].trim());
                    doc.push('\n');
                }
            } else {
                break;
            }
        }
        let pos = lx.pos();
        let Some(c) = lx.peek(0) else {
            out.push(Token { tok: Tok::Eof, pos });
            return Ok((out, doc));
        };
        if out.len() == MAX_MODULE_TOKENS {
            return err(
                pos,
                alloc::format!("module too large: more than {MAX_MODULE_TOKENS} tokens"),
            );
        }
        let tok = if c.is_ascii_alphabetic() || c == '_' {
            let mut s = String::new();
            while let Some(c) = lx.peek(0) {
                if c.is_ascii_alphanumeric() || c == '_' {
                    s.push(c);
                    lx.bump();
                } else {
                    break;
                }
            }
            keyword(&s).unwrap_or(Tok::Ident(s))
        } else if c.is_ascii_digit() {
            lex_number(&mut lx, pos)?
        } else {
            lx.bump();
            let n = lx.peek(0);
            let two = |t: Tok, lx: &mut Lexer| {
                lx.bump();
                t
            };
            match c {
                '(' => Tok::LParen,
                ')' => Tok::RParen,
                '{' => Tok::LBrace,
                '}' => Tok::RBrace,
                '[' => Tok::LBracket,
                ']' => Tok::RBracket,
                ',' => Tok::Comma,
                ';' => Tok::Semi,
                ':' => Tok::Colon,
                '#' => Tok::Hash,
                '.' if n == Some('.') => two(Tok::DotDot, &mut lx),
                '-' if n == Some('>') => two(Tok::Arrow, &mut lx),
                '-' if n == Some('=') => two(Tok::OpAssign(BinTok::Sub), &mut lx),
                '-' => Tok::Minus,
                '+' if n == Some('=') => two(Tok::OpAssign(BinTok::Add), &mut lx),
                '+' => Tok::Plus,
                '*' if n == Some('=') => two(Tok::OpAssign(BinTok::Mul), &mut lx),
                '*' => Tok::Star,
                '/' if n == Some('=') => two(Tok::OpAssign(BinTok::Div), &mut lx),
                '/' => Tok::Slash,
                '%' if n == Some('=') => two(Tok::OpAssign(BinTok::Rem), &mut lx),
                '%' => Tok::Percent,
                '^' if n == Some('=') => two(Tok::OpAssign(BinTok::Xor), &mut lx),
                '^' => Tok::Caret,
                '&' if n == Some('&') => two(Tok::AndAnd, &mut lx),
                '&' if n == Some('=') => two(Tok::OpAssign(BinTok::And), &mut lx),
                '&' => Tok::Amp,
                '|' if n == Some('|') => two(Tok::OrOr, &mut lx),
                '|' if n == Some('=') => two(Tok::OpAssign(BinTok::Or), &mut lx),
                '|' => Tok::Pipe,
                '!' if n == Some('=') => two(Tok::Ne, &mut lx),
                '!' => Tok::Bang,
                '=' if n == Some('=') => two(Tok::EqEq, &mut lx),
                '=' => Tok::Eq,
                '<' if n == Some('<') => {
                    lx.bump();
                    if lx.peek(0) == Some('=') {
                        two(Tok::OpAssign(BinTok::Shl), &mut lx)
                    } else {
                        Tok::Shl
                    }
                }
                '<' if n == Some('=') => two(Tok::Le, &mut lx),
                '<' => Tok::Lt,
                '>' if n == Some('>') => {
                    lx.bump();
                    match lx.peek(0) {
                        Some('>') => two(Tok::UShr, &mut lx),
                        Some('=') => two(Tok::OpAssign(BinTok::Shr), &mut lx),
                        _ => Tok::Shr,
                    }
                }
                '>' if n == Some('=') => two(Tok::Ge, &mut lx),
                '>' => Tok::Gt,
                other => {
                    return err(
                        pos,
                        alloc::format!("unexpected character `{}`", other.escape_debug()),
                    );
                }
            }
        };
        out.push(Token { tok, pos });
    }
}

fn lex_number(lx: &mut Lexer, pos: Pos) -> Result<Tok, PosError> {
    let c0 = lx.peek(0).unwrap_or('0');
    let c1 = lx.peek(1);
    if c0 == '0' && matches!(c1, Some('x') | Some('X') | Some('b') | Some('B')) {
        let radix: u32 = if matches!(c1, Some('x') | Some('X')) {
            16
        } else {
            2
        };
        lx.bump();
        lx.bump();
        let mut value: u128 = 0;
        let mut digits = 0;
        while let Some(c) = lx.peek(0) {
            if c == '_' {
                lx.bump();
                continue;
            }
            let Some(d) = c.to_digit(radix) else { break };
            lx.bump();
            digits += 1;
            value = match value
                .checked_mul(radix as u128)
                .and_then(|v| v.checked_add(d as u128))
            {
                Some(v) if v <= u64::MAX as u128 => v,
                _ => return err(pos, "integer literal too large"),
            };
        }
        if digits == 0 {
            return err(pos, "missing digits after radix prefix");
        }
        let suffix = lex_suffix(lx, pos)?;
        if let Some(s) = &suffix
            && s.starts_with('f')
        {
            return err(pos, "a hex or binary literal cannot have a float suffix");
        }
        return Ok(Tok::Int {
            value,
            radix_bits: true,
            suffix,
        });
    }
    let mut text = String::new();
    let mut is_float = false;
    while let Some(c) = lx.peek(0) {
        if c.is_ascii_digit() {
            text.push(c);
            lx.bump();
        } else if c == '_' {
            lx.bump();
        } else {
            break;
        }
    }
    if lx.peek(0) == Some('.') && lx.peek(1).is_some_and(|c| c.is_ascii_digit()) {
        is_float = true;
        text.push('.');
        lx.bump();
        while let Some(c) = lx.peek(0) {
            if c.is_ascii_digit() {
                text.push(c);
                lx.bump();
            } else if c == '_' {
                lx.bump();
            } else {
                break;
            }
        }
    }
    if matches!(lx.peek(0), Some('e') | Some('E')) {
        let sign = matches!(lx.peek(1), Some('+') | Some('-'));
        let d = if sign { lx.peek(2) } else { lx.peek(1) };
        if d.is_some_and(|c| c.is_ascii_digit()) {
            is_float = true;
            text.push('e');
            lx.bump();
            if sign {
                text.push(lx.bump().unwrap_or('+'));
            }
            while let Some(c) = lx.peek(0) {
                if c.is_ascii_digit() {
                    text.push(c);
                    lx.bump();
                } else {
                    break;
                }
            }
        }
    }
    let suffix = lex_suffix(lx, pos)?;
    if is_float || suffix.as_deref().is_some_and(|s| s.starts_with('f')) {
        if suffix.as_deref().is_some_and(|s| s.starts_with('i')) {
            return err(pos, "a float literal cannot have an integer suffix");
        }
        return Ok(Tok::Float { text, suffix });
    }
    let mut value: u128 = 0;
    for c in text.chars() {
        value = match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(c.to_digit(10).unwrap_or(0) as u128))
        {
            Some(v) if v <= u64::MAX as u128 => v,
            _ => return err(pos, "integer literal too large"),
        };
    }
    Ok(Tok::Int {
        value,
        radix_bits: false,
        suffix,
    })
}

fn lex_suffix(lx: &mut Lexer, pos: Pos) -> Result<Option<String>, PosError> {
    if !lx
        .peek(0)
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        return Ok(None);
    }
    let mut s = String::new();
    while let Some(c) = lx.peek(0) {
        if c.is_ascii_alphanumeric() || c == '_' {
            s.push(c);
            lx.bump();
        } else {
            break;
        }
    }
    match s.as_str() {
        "i32" | "i64" | "f32" | "f64" => Ok(Some(s)),
        _ => err(pos, alloc::format!("invalid literal suffix `{s}`")),
    }
}
