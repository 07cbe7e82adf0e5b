//! Parser: tokens to [`Expr`], with GitHub's precedence, function arity
//! checks, a depth limit and a length limit. Binary operators are grouped
//! with explicit stacks and `!` is counted, so recursion happens only for
//! parentheses, indexes and call arguments, with few small stack frames.
//!
//! Precedence, loosest first: `||`, `&&`, `==`/`!=`, `<`/`<=`/`>`/`>=`, `!`,
//! then postfix `.name`, `.*`, `[index]`, `[*]`, then literals, contexts,
//! calls and `( )`. Binary operators associate to the left.

use crate::ast::{CmpOp, Expr, ExprKind, Span};
use crate::error::ParseError;
use crate::functions::Function;
use crate::lexer::{Tok, Token, lex};

/// Deepest allowed nesting of the syntax tree, GitHub's own limit. It bounds
/// recursion in parsing and evaluation (well under 256 KiB of stack even in
/// unoptimised builds).
pub const MAX_DEPTH: u32 = 50;

/// Longest allowed expression, in characters (GitHub's limit).
pub const MAX_LENGTH: usize = 21_000;

/// Parses one expression: the text inside `${{ }}`, or a bare `if:` condition.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_LENGTH && src.chars().count() > MAX_LENGTH {
        return Err(ParseError::new(
            0,
            format!("Exceeded max expression length of {MAX_LENGTH} characters"),
        ));
    }
    let tokens = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        nesting: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(ParseError::new(src.len(), "Expected an expression"));
    }
    let expr = p.expression()?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected_here());
    }
    Ok(expr)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token<'s>>,
    pos: usize,
    nesting: u32,
}

/// A binary operator while operators are being grouped by precedence.
#[derive(Clone, Copy)]
enum BinOp {
    Or,
    And,
    Cmp(CmpOp),
}

impl BinOp {
    fn of(tok: &Tok<'_>) -> Option<BinOp> {
        Some(match tok {
            Tok::Or => BinOp::Or,
            Tok::And => BinOp::And,
            Tok::Eq => BinOp::Cmp(CmpOp::Eq),
            Tok::Ne => BinOp::Cmp(CmpOp::Ne),
            Tok::Lt => BinOp::Cmp(CmpOp::Lt),
            Tok::Le => BinOp::Cmp(CmpOp::Le),
            Tok::Gt => BinOp::Cmp(CmpOp::Gt),
            Tok::Ge => BinOp::Cmp(CmpOp::Ge),
            _ => return None,
        })
    }

    fn precedence(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Cmp(CmpOp::Eq | CmpOp::Ne) => 3,
            BinOp::Cmp(_) => 4,
        }
    }
}

#[cold]
#[inline(never)]
fn depth_error(at: usize) -> ParseError {
    ParseError::new(at, format!("Exceeded max expression depth of {MAX_DEPTH}"))
}

fn node(kind: ExprKind, start: usize, end: usize) -> Result<Expr, ParseError> {
    let mut expr = Expr {
        kind,
        span: Span { start, end },
        depth: 1,
    };
    let mut deepest = 0;
    expr.for_each_child(|c| deepest = deepest.max(c.depth));
    expr.depth = deepest + 1;
    if expr.depth > MAX_DEPTH {
        return Err(depth_error(start));
    }
    Ok(expr)
}

/// Combines the top operator with the top two operands. `a && b && c`
/// becomes one `And` node; the flag marks nodes built here, so that a
/// parenthesised `(a && b) && c` keeps its own node.
fn reduce(operands: &mut Vec<(Expr, bool)>, ops: &mut Vec<BinOp>) -> Result<(), ParseError> {
    let (Some(op), Some((right, _)), Some((left, fresh))) =
        (ops.pop(), operands.pop(), operands.pop())
    else {
        return Err(ParseError::new(0, "Internal error: unbalanced operators"));
    };
    let (start, end) = (left.span.start, right.span.end);
    let expr = match (op, left) {
        (
            BinOp::Or,
            mut left @ Expr {
                kind: ExprKind::Or(_),
                ..
            },
        )
        | (
            BinOp::And,
            mut left @ Expr {
                kind: ExprKind::And(_),
                ..
            },
        ) if fresh => {
            left.depth = left.depth.max(right.depth + 1);
            if left.depth > MAX_DEPTH {
                return Err(depth_error(start));
            }
            left.span.end = end;
            if let ExprKind::Or(items) | ExprKind::And(items) = &mut left.kind {
                items.push(right);
            }
            left
        }
        (BinOp::Or, left) => node(ExprKind::Or(vec![left, right]), start, end)?,
        (BinOp::And, left) => node(ExprKind::And(vec![left, right]), start, end)?,
        (BinOp::Cmp(c), left) => node(
            ExprKind::Compare(c, Box::new(left), Box::new(right)),
            start,
            end,
        )?,
    };
    operands.push((expr, true));
    Ok(())
}

impl<'s> Parser<'s> {
    fn peek(&self) -> &Tok<'s> {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_start(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.src.len(), |t| t.start)
    }

    /// Takes the current token (tokens are read once, so it is moved out).
    fn bump(&mut self) -> Token<'s> {
        let end = self.src.len();
        match self.tokens.get_mut(self.pos) {
            Some(t) if t.tok != Tok::Eof => {
                self.pos += 1;
                Token {
                    tok: std::mem::replace(&mut t.tok, Tok::Eof),
                    start: t.start,
                    end: t.end,
                }
            }
            _ => Token {
                tok: Tok::Eof,
                start: end,
                end,
            },
        }
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self, start: usize, end: usize) -> ParseError {
        if start >= self.src.len() {
            return ParseError::new(self.src.len(), "Unexpected end of expression");
        }
        let text = self.src.get(start..end).unwrap_or("");
        ParseError::new(start, format!("Unexpected symbol: '{text}'"))
    }

    #[cold]
    #[inline(never)]
    fn unexpected_here(&self) -> ParseError {
        match self.tokens.get(self.pos) {
            Some(t) => self.unexpected(t.start, t.end),
            None => self.unexpected(self.src.len(), self.src.len()),
        }
    }

    /// "Expected X but found Y" at the current token.
    #[cold]
    #[inline(never)]
    fn expected(&self, what: &str) -> ParseError {
        let (start, end) = self
            .tokens
            .get(self.pos)
            .map_or((self.src.len(), self.src.len()), |t| (t.start, t.end));
        let found = match self.src.get(start..end) {
            Some(text) if start < self.src.len() => format!("'{text}'"),
            _ => "the end of the expression".to_string(),
        };
        ParseError::new(start, format!("Expected {what} but found {found}"))
    }

    fn expect(&mut self, want: &Tok<'s>, what: &str) -> Result<usize, ParseError> {
        if self.peek() != want {
            return Err(self.expected(what));
        }
        Ok(self.bump().end)
    }

    /// A full expression. Recursion (parentheses, indexes, call arguments)
    /// always comes through here, so the nesting guard lives here.
    fn expression(&mut self) -> Result<Expr, ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(depth_error(self.peek_start()));
        }
        let result = self.binary();
        self.nesting -= 1;
        result
    }

    /// Binary operators, grouped by precedence with explicit stacks (no
    /// recursion per precedence level).
    fn binary(&mut self) -> Result<Expr, ParseError> {
        let mut operands = vec![(self.unary()?, false)];
        let mut ops: Vec<BinOp> = Vec::new();
        while let Some(op) = BinOp::of(self.peek()) {
            self.pos += 1;
            while ops
                .last()
                .is_some_and(|top| top.precedence() >= op.precedence())
            {
                reduce(&mut operands, &mut ops)?;
            }
            ops.push(op);
            operands.push((self.unary()?, false));
        }
        while !ops.is_empty() {
            reduce(&mut operands, &mut ops)?;
        }
        match operands.pop() {
            Some((expr, _)) => Ok(expr),
            None => Err(ParseError::new(0, "Internal error: no operand")),
        }
    }

    /// `!`s (counted, not recursed) before a postfix expression.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        let mut bangs = Vec::new();
        while self.peek() == &Tok::Not {
            bangs.push(self.bump().start);
        }
        let mut expr = self.postfix()?;
        while let Some(start) = bangs.pop() {
            let end = expr.span.end;
            expr = node(ExprKind::Not(Box::new(expr)), start, end)?;
        }
        Ok(expr)
    }

    // Recursion runs expression → binary → unary → postfix → (index | primary
    // → (group | call)) → expression. In unoptimised builds every local of a
    // function takes stack space, so non-recursive work lives in separate
    // functions to keep the frames on that path small.

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.primary()?;
        loop {
            expr = match self.peek() {
                Tok::Dot => self.property(expr)?,
                Tok::LBracket => self.index(expr)?,
                _ => return Ok(expr),
            };
        }
    }

    #[inline(never)]
    fn property(&mut self, base: Expr) -> Result<Expr, ParseError> {
        let start = base.span.start;
        let dot_end = self.bump().end;
        let name = self.bump();
        match name.tok {
            Tok::Ident(id) => node(
                ExprKind::Property(Box::new(base), id.to_string()),
                start,
                name.end,
            ),
            Tok::Star => node(ExprKind::Wildcard(Box::new(base)), start, name.end),
            Tok::Eof => Err(ParseError::new(
                dot_end,
                "Expected a property name after '.'",
            )),
            _ => Err(self.unexpected(name.start, name.end)),
        }
    }

    #[inline(never)]
    fn index(&mut self, base: Expr) -> Result<Expr, ParseError> {
        let start = base.span.start;
        self.pos += 1; // [
        if self.peek() == &Tok::Star {
            self.pos += 1;
            let end = self.expect(&Tok::RBracket, "']'")?;
            return node(ExprKind::Wildcard(Box::new(base)), start, end);
        }
        let index = self.expression()?;
        let end = self.expect(&Tok::RBracket, "']'")?;
        node(ExprKind::Index(Box::new(base), Box::new(index)), start, end)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::LParen => self.group(),
            Tok::Ident(name)
                if self
                    .tokens
                    .get(self.pos + 1)
                    .is_some_and(|t| t.tok == Tok::LParen) =>
            {
                let name: &'s str = name;
                self.call(name)
            }
            _ => self.atom(),
        }
    }

    #[inline(never)]
    fn group(&mut self) -> Result<Expr, ParseError> {
        self.pos += 1; // (
        let inner = self.expression()?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(inner)
    }

    /// A literal or a context name.
    #[inline(never)]
    fn atom(&mut self) -> Result<Expr, ParseError> {
        let Token { tok, start, end } = self.bump();
        let kind = match tok {
            Tok::Number(n) => ExprKind::Number(n),
            Tok::String(s) => ExprKind::String(s),
            Tok::Ident("null") => ExprKind::Null,
            Tok::Ident("true") => ExprKind::Bool(true),
            Tok::Ident("false") => ExprKind::Bool(false),
            Tok::Ident("NaN") => ExprKind::Number(f64::NAN),
            Tok::Ident("Infinity") => ExprKind::Number(f64::INFINITY),
            Tok::Ident(name) => ExprKind::Context(name.to_string()),
            _ => return Err(self.unexpected(start, end)),
        };
        node(kind, start, end)
    }

    #[inline(never)]
    fn call(&mut self, name: &'s str) -> Result<Expr, ParseError> {
        let start = self.peek_start();
        let Some(func) = Function::lookup(name) else {
            return Err(unknown_function(name, start));
        };
        self.pos += 2; // name (
        let mut args = Vec::new();
        if self.peek() != &Tok::RParen {
            loop {
                args.push(self.expression()?);
                if self.peek() != &Tok::Comma {
                    break;
                }
                self.pos += 1;
            }
        }
        let end = self.expect(&Tok::RParen, "',' or ')'")?;
        finish_call(func, args, start, end)
    }
}

#[inline(never)]
fn finish_call(
    func: Function,
    args: Vec<Expr>,
    start: usize,
    end: usize,
) -> Result<Expr, ParseError> {
    check_arity(func, &args, start)?;
    node(ExprKind::Call(func, args), start, end)
}

#[cold]
#[inline(never)]
fn unknown_function(name: &str, start: usize) -> ParseError {
    let hint = match Function::suggest(name) {
        Some(f) => format!(" (did you mean '{f}'?)"),
        None => String::new(),
    };
    ParseError::new(start, format!("Unrecognized function: '{name}'{hint}"))
}

#[inline(never)]
fn check_arity(func: Function, args: &[Expr], start: usize) -> Result<(), ParseError> {
    let n = args.len();
    let (min, max) = (func.min_args(), func.max_args());
    let expects = match max {
        Some(max) if max == min => format!("{min}"),
        Some(max) => format!("{min} to {max}"),
        None => format!("at least {min}"),
    };
    if n < min {
        return Err(ParseError::new(
            start,
            format!("Too few parameters supplied: '{func}' (expects {expects}, got {n})"),
        ));
    }
    if max.is_some_and(|max| n > max) {
        return Err(ParseError::new(
            start,
            format!("Too many parameters supplied: '{func}' (expects {expects}, got {n})"),
        ));
    }
    if func == Function::Case && n.is_multiple_of(2) {
        return Err(ParseError::new(
            start,
            format!(
                "Even number of parameters supplied, requires an odd number of parameters: 'case' (pairs of predicate and value, then a default; got {n})"
            ),
        ));
    }
    if func == Function::Format
        && let Some(Expr {
            kind: ExprKind::String(fmt),
            span,
            ..
        }) = args.first()
        && let Err(message) = crate::eval::check_format(fmt, n - 1)
    {
        return Err(ParseError::new(span.start, message));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> (usize, String) {
        match parse(src) {
            Ok(e) => panic!("expected an error for {src:?}, got {e}"),
            Err(e) => (e.offset, e.message),
        }
    }

    fn show(src: &str) -> String {
        match parse(src) {
            Ok(e) => e.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn precedence_and_display() {
        assert_eq!(show("a||b&&c"), "a || b && c");
        assert_eq!(show("(a||b)&&c"), "(a || b) && c");
        assert_eq!(show("!a==b"), "!a == b");
        assert_eq!(show("!(a==b)"), "!(a == b)");
        assert_eq!(show("a < b == c >= d"), "a < b == c >= d");
        assert_eq!(show("a == (b == c)"), "a == (b == c)");
        assert_eq!(show("(a == b) == c"), "a == b == c");
        assert_eq!(show("TOJSON( a.b[ 'c' ].* )"), "toJSON(a.b['c'].*)");
        assert_eq!(show("a[*].b"), "a.*.b");
        assert_eq!(show("'It''s'"), "'It''s'");
        assert_eq!(show("0xff"), "255");
        assert_eq!(show("(1).a"), "(1).a");
        assert_eq!(show("foo.true.null"), "foo.true.null");
        assert_eq!(show("-Infinity"), "-Infinity");
        assert_eq!(show("((a))"), "a");
    }

    #[test]
    fn spans() {
        let e = parse("  github.ref == 'x'").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.span(), Span { start: 2, end: 19 });
        assert_eq!(e.contexts(), vec![("github".to_string(), 2)]);
        let e = parse("format('{0}', toJson(matrix))").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            e.functions(),
            vec![("format".to_string(), 0, 2), ("toJSON".to_string(), 14, 1)]
        );
        assert_eq!(e.contexts(), vec![("matrix".to_string(), 21)]);
    }

    #[test]
    fn error_offsets() {
        assert_eq!(err(""), (0, "Expected an expression".into()));
        assert_eq!(err("   "), (3, "Expected an expression".into()));
        assert_eq!(err("a b"), (2, "Unexpected symbol: 'b'".into()));
        assert_eq!(err("foo.1").0, 4);
        assert_eq!(err("fromjson('').1").0, 13);
        assert_eq!(err("foo[1].2").0, 7);
        assert_eq!(err("a."), (2, "Expected a property name after '.'".into()));
        assert_eq!(
            err("(a"),
            (2, "Expected ')' but found the end of the expression".into())
        );
        assert_eq!(
            err("a[1"),
            (3, "Expected ']' but found the end of the expression".into())
        );
        assert_eq!(err("a &&"), (4, "Unexpected end of expression".into()));
        assert_eq!(err("a == )").0, 5);
        assert_eq!(
            err("contains(a b)"),
            (11, "Expected ',' or ')' but found 'b'".into())
        );
        assert_eq!(err("contains(a,)").0, 11);
        assert_eq!(
            err("x && tojsn(a)"),
            (
                5,
                "Unrecognized function: 'tojsn' (did you mean 'toJSON'?)".into()
            )
        );
        assert_eq!(err("foo(1)"), (0, "Unrecognized function: 'foo'".into()));
        assert_eq!(
            err("a || contains('a')"),
            (
                5,
                "Too few parameters supplied: 'contains' (expects 2, got 1)".into()
            )
        );
        assert_eq!(
            err("join(1, 2, 3)").1,
            "Too many parameters supplied: 'join' (expects 1 to 2, got 3)"
        );
        assert_eq!(
            err("success(1)").1,
            "Too many parameters supplied: 'success' (expects 0, got 1)"
        );
        assert_eq!(
            err("format()").1,
            "Too few parameters supplied: 'format' (expects at least 1, got 0)"
        );
        assert!(
            err("case(true, 1, false, 2)")
                .1
                .starts_with("Even number of parameters")
        );
        assert_eq!(err("x || format('{0}{1}', 1)").0, 12);
        assert_eq!(err("a.*b").0, 3);
        assert_eq!(
            err("a[*"),
            (3, "Expected ']' but found the end of the expression".into())
        );
        assert_eq!(err("*").0, 0);
    }

    #[test]
    fn depth_and_length_limits() {
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(err(&deep).1.contains("max expression depth"));
        assert!(
            err(&format!("{}a", "!".repeat(500)))
                .1
                .contains("max expression depth")
        );
        let chain = format!("a{}", ".b".repeat(500));
        assert!(err(&chain).1.contains("max expression depth"));
        let cmp = vec!["a"; 500].join(" == ");
        assert!(err(&cmp).1.contains("max expression depth"));
        // Long flat && / || chains are one node, not a deep tree.
        assert!(parse(&vec!["a"; 500].join(" || ")).is_ok());
        assert!(
            err(&"a".repeat(MAX_LENGTH + 1))
                .1
                .contains("max expression length")
        );
        assert!(parse(&format!("{}a{}", "(".repeat(45), ")".repeat(45))).is_ok());
    }
}
