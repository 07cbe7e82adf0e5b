//! The expression syntax tree, its static queries (contexts and functions
//! used) and its normalised [`Display`](std::fmt::Display) form.

use std::fmt;

use crate::coerce::shortest_number;
use crate::functions::Function;

/// Byte range of a node in the expression source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            CmpOp::Eq | CmpOp::Ne => PREC_EQ,
            _ => PREC_CMP,
        }
    }
}

/// What a node is.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number literal (`711`, `-9.2`, `0xff`, `-2.99e-2`, `NaN`, `Infinity`).
    Number(f64),
    /// A single-quoted string literal, unescaped.
    String(String),
    /// A named context such as `github`, as written.
    Context(String),
    /// `base.name`
    Property(Box<Expr>, String),
    /// `base[index]`
    Index(Box<Expr>, Box<Expr>),
    /// `base.*` or `base[*]` (an object filter).
    Wildcard(Box<Expr>),
    /// `!operand`
    Not(Box<Expr>),
    /// A comparison.
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `a && b && …` (two or more operands).
    And(Vec<Expr>),
    /// `a || b || …` (two or more operands).
    Or(Vec<Expr>),
    /// A function call; the arity was checked by the parser.
    Call(Function, Vec<Expr>),
}

/// A parsed expression. Spans are byte offsets in the source it was parsed
/// from (for an expression inside a template, the text between `${{` and `}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) span: Span,
    pub(crate) depth: u32,
}

const PREC_OR: u8 = 1;
const PREC_AND: u8 = 2;
const PREC_EQ: u8 = 3;
const PREC_CMP: u8 = 4;
const PREC_NOT: u8 = 5;
const PREC_POSTFIX: u8 = 6;

impl Expr {
    /// The node's kind and children.
    pub fn kind(&self) -> &ExprKind {
        &self.kind
    }

    /// The node's byte range in its source.
    pub fn span(&self) -> Span {
        self.span
    }

    /// Calls `f` on each direct child, in source order.
    pub(crate) fn for_each_child<'e>(&'e self, mut f: impl FnMut(&'e Expr)) {
        match &self.kind {
            ExprKind::Null
            | ExprKind::Bool(_)
            | ExprKind::Number(_)
            | ExprKind::String(_)
            | ExprKind::Context(_) => {}
            ExprKind::Property(base, _) | ExprKind::Wildcard(base) | ExprKind::Not(base) => f(base),
            ExprKind::Index(a, b) | ExprKind::Compare(_, a, b) => {
                f(a);
                f(b);
            }
            ExprKind::And(items) | ExprKind::Or(items) | ExprKind::Call(_, items) => {
                items.iter().for_each(f)
            }
        }
    }

    /// Visits every node, parents before children, in source order.
    pub fn walk<'e>(&'e self, f: &mut dyn FnMut(&'e Expr)) {
        f(self);
        self.for_each_child(|c| c.walk(f));
    }

    /// Every context read (`github`, `matrix`, …) as written, with its byte offset.
    pub fn contexts(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Context(name) = &e.kind {
                out.push((name.clone(), e.span.start));
            }
        });
        out
    }

    /// Every function call: canonical name (e.g. `toJSON`), byte offset of
    /// the name, and number of arguments.
    pub fn functions(&self) -> Vec<(String, usize, usize)> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Call(f, args) = &e.kind {
                out.push((f.name().to_string(), e.span.start, args.len()));
            }
        });
        out
    }

    /// True when `success()`, `failure()`, `always()` or `cancelled()` is called anywhere.
    pub fn has_status_function(&self) -> bool {
        let mut found = false;
        self.walk(&mut |e| {
            if let ExprKind::Call(f, _) = &e.kind {
                found |= f.is_status();
            }
        });
        found
    }

    fn precedence(&self) -> u8 {
        match &self.kind {
            ExprKind::Or(_) => PREC_OR,
            ExprKind::And(_) => PREC_AND,
            ExprKind::Compare(op, _, _) => op.precedence(),
            ExprKind::Not(_) => PREC_NOT,
            _ => PREC_POSTFIX,
        }
    }

    fn fmt_at(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        if self.precedence() < min {
            f.write_str("(")?;
            self.fmt_at(f, 0)?;
            return f.write_str(")");
        }
        match &self.kind {
            ExprKind::Null => f.write_str("null"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Number(n) => f.write_str(&shortest_number(*n)),
            ExprKind::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            ExprKind::Context(name) => f.write_str(name),
            ExprKind::Property(base, name) => {
                base.fmt_base(f)?;
                write!(f, ".{name}")
            }
            ExprKind::Index(base, index) => {
                base.fmt_base(f)?;
                f.write_str("[")?;
                index.fmt_at(f, 0)?;
                f.write_str("]")
            }
            ExprKind::Wildcard(base) => {
                base.fmt_base(f)?;
                f.write_str(".*")
            }
            ExprKind::Not(operand) => {
                f.write_str("!")?;
                operand.fmt_at(f, PREC_NOT)
            }
            ExprKind::Compare(op, left, right) => {
                let p = op.precedence();
                left.fmt_at(f, p)?;
                write!(f, " {} ", op.symbol())?;
                right.fmt_at(f, p + 1)
            }
            ExprKind::And(items) => fmt_list(f, items, " && ", PREC_AND + 1),
            ExprKind::Or(items) => fmt_list(f, items, " || ", PREC_OR + 1),
            ExprKind::Call(func, args) => {
                write!(f, "{func}(")?;
                fmt_list(f, args, ", ", 0)?;
                f.write_str(")")
            }
        }
    }

    /// The left side of `.`/`[`: a number literal needs parentheses (`(1).a`,
    /// since `1.a` would read as one bad number).
    fn fmt_base(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self.kind, ExprKind::Number(_)) {
            f.write_str("(")?;
            self.fmt_at(f, 0)?;
            f.write_str(")")
        } else {
            self.fmt_at(f, PREC_POSTFIX)
        }
    }
}

fn fmt_list(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str, min: u8) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        item.fmt_at(f, min)?;
    }
    Ok(())
}

/// A normalised form: canonical function names, single spaces around
/// operators, only the parentheses precedence needs, `.*` for filters.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_at(f, 0)
    }
}
