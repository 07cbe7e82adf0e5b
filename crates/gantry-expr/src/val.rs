//! The evaluator's working value: borrows context data instead of copying it,
//! and implements property/index access, object filters, loose equality and
//! ordering.
//!
//! Identity of arrays and objects: GitHub compares two arrays (or two
//! objects) as equal only when they are the same instance. A value read from
//! a context is borrowed, so two reads of the same path point at the same
//! `serde_json::Value` and compare equal by address; results of `fromJSON`
//! are shared through `Rc` and compare by `Rc` address. Filter results
//! (`a.*`) are new arrays and never equal anything, as on GitHub. Children
//! taken out of a `fromJSON` result are copies, so they lose that identity.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::ast::CmpOp;
use crate::coerce::{
    bool_number, cmp_ignore_case, eq_ignore_case, format_number, number_truthy, number_value,
    string_to_number, to_str,
};

#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    /// Borrowed from a context (any JSON kind).
    Ref(&'a Value),
    /// Produced during evaluation, e.g. by `fromJSON` (any JSON kind).
    Own(Rc<Value>),
    /// The array an object filter (`.*`) produces; items are `Ref`/`Own`.
    Filtered(Vec<Val<'a>>),
}

/// A JSON value behind a `Val`, whichever way it is held.
fn json<'v>(v: &'v Val<'_>) -> Option<&'v Value> {
    match v {
        Val::Ref(j) => Some(j),
        Val::Own(rc) => Some(rc),
        _ => None,
    }
}

impl<'a> Val<'a> {
    pub(crate) fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => number_truthy(*n),
            Val::Str(s) => !s.is_empty(),
            Val::Ref(j) => crate::coerce::truthy(j),
            Val::Own(j) => crate::coerce::truthy(j),
            Val::Filtered(_) => true,
        }
    }

    pub(crate) fn to_str(&self) -> Cow<'_, str> {
        match self {
            Val::Null => Cow::Borrowed(""),
            Val::Bool(true) => Cow::Borrowed("true"),
            Val::Bool(false) => Cow::Borrowed("false"),
            Val::Num(n) => Cow::Owned(format_number(*n)),
            Val::Str(s) => Cow::Borrowed(s),
            Val::Ref(j) => to_str(j),
            Val::Own(j) => to_str(j),
            Val::Filtered(_) => Cow::Borrowed("Array"),
        }
    }

    /// Null, boolean, number or string (not an array or object).
    pub(crate) fn is_primitive(&self) -> bool {
        match self {
            Val::Null | Val::Bool(_) | Val::Num(_) | Val::Str(_) => true,
            Val::Ref(j) => !matches!(j, Value::Array(_) | Value::Object(_)),
            Val::Own(j) => !matches!(**j, Value::Array(_) | Value::Object(_)),
            Val::Filtered(_) => false,
        }
    }

    pub(crate) fn is_bool(&self) -> bool {
        match self {
            Val::Bool(_) => true,
            Val::Ref(j) => j.is_boolean(),
            Val::Own(j) => j.is_boolean(),
            _ => false,
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Num(n) => number_value(n),
            Val::Str(s) => Value::String(s.into_owned()),
            Val::Ref(j) => j.clone(),
            Val::Own(j) => Rc::try_unwrap(j).unwrap_or_else(|rc| (*rc).clone()),
            Val::Filtered(items) => Value::Array(items.into_iter().map(Val::into_value).collect()),
        }
    }

    /// Pretty JSON with two-space indentation, without copying borrowed data.
    pub(crate) fn to_json(&self) -> Result<String, serde_json::Error> {
        match json(self) {
            Some(j) => serde_json::to_string_pretty(j),
            None => serde_json::to_string_pretty(&self.clone().into_value()),
        }
    }

    /// A JSON array or a filter result.
    pub(crate) fn is_array(&self) -> bool {
        matches!(self, Val::Filtered(_)) || json(self).is_some_and(Value::is_array)
    }

    /// Loops over array items without collecting them; `f` returns true to stop.
    pub(crate) fn any_item(&self, mut f: impl FnMut(&Val<'_>) -> bool) -> bool {
        match self {
            Val::Ref(Value::Array(items)) => items.iter().any(|v| f(&Val::Ref(v))),
            Val::Own(rc) => match &**rc {
                Value::Array(items) => items.iter().any(|v| f(&Val::Ref(v))),
                _ => false,
            },
            Val::Filtered(items) => items.iter().any(f),
            _ => false,
        }
    }
}

/// An index converted both ways, as GitHub does: arrays use the number
/// (floored; negative, NaN or huge → no item), objects use the string form
/// of a primitive index.
pub(crate) struct Key<'k> {
    int: Option<usize>,
    text: Option<Cow<'k, str>>,
}

impl<'k> Key<'k> {
    pub(crate) fn name(name: &'k str) -> Self {
        Key {
            int: None,
            text: Some(Cow::Borrowed(name)),
        }
    }

    pub(crate) fn from_val(v: &'k Val<'_>) -> Self {
        let n = Cmp::of(v).number();
        let int = if n.is_nan() || n < 0.0 || n > u32::MAX as f64 {
            None
        } else {
            Some(n.floor() as usize)
        };
        let text = if v.is_primitive() {
            Some(v.to_str())
        } else {
            None
        };
        Key { int, text }
    }
}

/// Object lookup: exact key first, then ignoring case.
fn get_ignore_case<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| eq_ignore_case(k, key))
            .map(|(_, v)| v)
    })
}

fn lookup<'v>(v: &'v Value, key: &Key<'_>) -> Option<&'v Value> {
    match v {
        Value::Array(items) => key.int.and_then(|i| items.get(i)),
        Value::Object(map) => key.text.as_deref().and_then(|k| get_ignore_case(map, k)),
        _ => None,
    }
}

fn children(v: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match v {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => Box::new(std::iter::empty()),
    }
}

fn owned<'a>(v: &Value) -> Val<'a> {
    Val::Own(Rc::new(v.clone()))
}

/// `base.name` / `base[index]`. Missing items and non-containers give null;
/// on a filter result the access applies to each item and misses are dropped.
pub(crate) fn index<'a>(base: Val<'a>, key: &Key<'_>) -> Val<'a> {
    match base {
        Val::Ref(j) => lookup(j, key).map_or(Val::Null, Val::Ref),
        Val::Own(rc) => lookup(&rc, key).map_or(Val::Null, owned),
        Val::Filtered(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Val::Ref(j) => out.extend(lookup(j, key).map(Val::Ref)),
                    Val::Own(rc) => out.extend(lookup(&rc, key).map(owned)),
                    _ => {}
                }
            }
            Val::Filtered(out)
        }
        _ => Val::Null,
    }
}

/// `base.*`: the items of an array or the values of an object, as a new
/// array; on a filter result, the items' items (one level flattened).
/// Anything else gives null.
pub(crate) fn wildcard<'a>(base: Val<'a>) -> Val<'a> {
    match base {
        Val::Ref(j @ (Value::Array(_) | Value::Object(_))) => {
            Val::Filtered(children(j).map(Val::Ref).collect())
        }
        Val::Own(rc) if matches!(*rc, Value::Array(_) | Value::Object(_)) => {
            Val::Filtered(children(&rc).map(owned).collect())
        }
        Val::Filtered(items) => {
            let mut out = Vec::new();
            for item in items {
                match item {
                    Val::Ref(j) => out.extend(children(j).map(Val::Ref)),
                    Val::Own(rc) => out.extend(children(&rc).map(owned)),
                    _ => {}
                }
            }
            Val::Filtered(out)
        }
        _ => Val::Null,
    }
}

/// A value reduced to what comparisons look at. Arrays and objects carry
/// their identity (an address), or `None` when they have none.
#[derive(Debug, Clone, Copy)]
enum Cmp<'v> {
    Null,
    Bool(bool),
    Num(f64),
    Str(&'v str),
    Array(Option<usize>),
    Object(Option<usize>),
}

impl<'v> Cmp<'v> {
    fn of(v: &'v Val<'_>) -> Self {
        match v {
            Val::Null => Cmp::Null,
            Val::Bool(b) => Cmp::Bool(*b),
            Val::Num(n) => Cmp::Num(*n),
            Val::Str(s) => Cmp::Str(s),
            Val::Ref(j) => Cmp::json(j, std::ptr::from_ref::<Value>(j) as usize),
            Val::Own(rc) => Cmp::json(rc, Rc::as_ptr(rc) as usize),
            Val::Filtered(_) => Cmp::Array(None),
        }
    }

    fn json(j: &'v Value, id: usize) -> Self {
        match j {
            Value::Null => Cmp::Null,
            Value::Bool(b) => Cmp::Bool(*b),
            Value::Number(n) => Cmp::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Cmp::Str(s),
            Value::Array(_) => Cmp::Array(Some(id)),
            Value::Object(_) => Cmp::Object(Some(id)),
        }
    }

    fn number(self) -> f64 {
        match self {
            Cmp::Null => 0.0,
            Cmp::Bool(b) => bool_number(b),
            Cmp::Num(n) => n,
            Cmp::Str(s) => string_to_number(s),
            Cmp::Array(_) | Cmp::Object(_) => f64::NAN,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Cmp::Null => 0,
            Cmp::Bool(_) => 1,
            Cmp::Num(_) => 2,
            Cmp::Str(_) => 3,
            Cmp::Array(_) => 4,
            Cmp::Object(_) => 5,
        }
    }
}

/// GitHub's coercion before comparing: values of different kinds meet as
/// numbers when one is a number and the other a string, or when either is
/// null or a boolean (which then converts first). Arrays and objects never
/// convert, so they only ever compare with their own kind.
fn coerce<'v>(l: Cmp<'v>, r: Cmp<'v>) -> (Cmp<'v>, Cmp<'v>) {
    if l.rank() == r.rank() {
        return (l, r);
    }
    match (l, r) {
        (Cmp::Num(_), Cmp::Str(_)) => (l, Cmp::Num(r.number())),
        (Cmp::Str(_), Cmp::Num(_)) => (Cmp::Num(l.number()), r),
        (Cmp::Null | Cmp::Bool(_), _) => coerce(Cmp::Num(l.number()), r),
        (_, Cmp::Null | Cmp::Bool(_)) => coerce(l, Cmp::Num(r.number())),
        _ => (l, r),
    }
}

/// `==`: strings ignore case; NaN equals nothing; arrays and objects are
/// equal only to the very same instance.
pub(crate) fn loose_eq(l: &Val<'_>, r: &Val<'_>) -> bool {
    match coerce(Cmp::of(l), Cmp::of(r)) {
        (Cmp::Null, Cmp::Null) => true,
        (Cmp::Bool(a), Cmp::Bool(b)) => a == b,
        (Cmp::Num(a), Cmp::Num(b)) => a == b,
        (Cmp::Str(a), Cmp::Str(b)) => eq_ignore_case(a, b),
        (Cmp::Array(Some(a)), Cmp::Array(Some(b)))
        | (Cmp::Object(Some(a)), Cmp::Object(Some(b))) => a == b,
        _ => false,
    }
}

/// Any comparison operator (`==`/`!=` via [`loose_eq`]); for `<`, `<=`, `>`, `>=`: Only numbers,
/// strings (ignoring case) and booleans order; anything involving NaN, an
/// array or an object is false.
pub(crate) fn compare(op: CmpOp, l: &Val<'_>, r: &Val<'_>) -> bool {
    match op {
        CmpOp::Eq => return loose_eq(l, r),
        CmpOp::Ne => return !loose_eq(l, r),
        _ => {}
    }
    let ordering = match coerce(Cmp::of(l), Cmp::of(r)) {
        (Cmp::Num(a), Cmp::Num(b)) => a.partial_cmp(&b),
        (Cmp::Str(a), Cmp::Str(b)) => Some(cmp_ignore_case(a, b)),
        (Cmp::Bool(a), Cmp::Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    };
    match op {
        CmpOp::Eq | CmpOp::Ne => false,
        CmpOp::Lt => ordering == Some(Ordering::Less),
        CmpOp::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ordering == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
    }
}
