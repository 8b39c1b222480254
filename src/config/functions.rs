//! The built-in functions of the language (exactly those the language reference lists), and
//! the base evaluation context that declares them.

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::{Map, Number, Value};

/// The function names, for "did you mean" hints.
pub const FUNCTIONS: &[&str] = &[
    "lower",
    "upper",
    "trimspace",
    "format",
    "join",
    "split",
    "concat",
    "distinct",
    "flatten",
    "toset",
    "tolist",
    "tomap",
    "keys",
    "values",
    "length",
    "contains",
    "merge",
    "lookup",
    "coalesce",
    "replace",
    "startswith",
    "endswith",
];

/// A context with every built-in function declared and no variables.
pub fn base_context() -> Context<'static> {
    context_calling(FUNCTIONS.iter().copied())
}

/// A context with only the named built-in functions declared (unknown names are skipped):
/// cheaper to build for each block than a copy of the base context.
pub fn context_calling<'n>(names: impl IntoIterator<Item = &'n str>) -> Context<'static> {
    let mut ctx = Context::new();
    for name in names {
        if let Some((name, def)) = DEFINITIONS.iter().find(|(n, _)| *n == name) {
            ctx.declare_func(*name, def.clone());
        }
    }
    ctx
}

static DEFINITIONS: std::sync::LazyLock<Vec<(&'static str, FuncDef)>> = std::sync::LazyLock::new(definitions);

fn definitions() -> Vec<(&'static str, FuncDef)> {
    use ParamType as P;
    let s = || P::String;
    let any = || P::Any;
    let list = || P::array_of(P::Any);
    let obj = || P::object_of(P::Any);
    let mut defs = Vec::new();
    let mut def =
        |name: &'static str, params: Vec<ParamType>, variadic: Option<ParamType>, f: hcl::eval::Func| {
            let mut b = FuncDef::builder().params(params);
            if let Some(v) = variadic {
                b = b.variadic_param(v);
            }
            defs.push((name, b.build(f)));
        };
    def("lower", vec![s()], None, |a| Ok(Value::String(string(&a, 0).to_lowercase())));
    def("upper", vec![s()], None, |a| Ok(Value::String(string(&a, 0).to_uppercase())));
    def("trimspace", vec![s()], None, |a| Ok(Value::String(string(&a, 0).trim().to_string())));
    def("format", vec![s()], Some(any()), format);
    def("join", vec![s()], Some(P::array_of(s())), join);
    def("split", vec![s(), s()], None, split);
    def("concat", vec![], Some(list()), |a| {
        Ok(Value::Array(a.into_values().into_iter().flat_map(array_owned).collect()))
    });
    def("distinct", vec![list()], None, |a| Ok(Value::Array(distinct(array(&a, 0).to_vec()))));
    def("flatten", vec![list()], None, |a| {
        let mut out = Vec::new();
        flatten_into(array(&a, 0), &mut out);
        Ok(Value::Array(out))
    });
    def("toset", vec![list()], None, |a| Ok(Value::Array(to_set(array(&a, 0).to_vec()))));
    def("tolist", vec![list()], None, |a| Ok(a[0].clone()));
    def("tomap", vec![obj()], None, |a| Ok(a[0].clone()));
    def("keys", vec![obj()], None, |a| {
        let mut keys: Vec<&String> = object(&a, 0).map(|m| m.keys().collect()).unwrap_or_default();
        keys.sort();
        Ok(Value::Array(keys.into_iter().map(|k| Value::String(k.clone())).collect()))
    });
    def("values", vec![obj()], None, |a| {
        let Some(map) = object(&a, 0) else { return Ok(Value::Array(Vec::new())) };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        Ok(Value::Array(keys.into_iter().filter_map(|k| map.get(k).cloned()).collect()))
    });
    def("length", vec![P::one_of([s(), list(), obj()])], None, |a| {
        let n = match &a[0] {
            Value::String(s) => s.chars().count(),
            Value::Array(v) => v.len(),
            Value::Object(m) => m.len(),
            _ => return Err("length needs a string, a list or a map".into()),
        };
        Ok(Value::Number(Number::from(n as u64)))
    });
    def("contains", vec![list(), any()], None, |a| Ok(Value::Bool(array(&a, 0).contains(&a[1]))));
    def("merge", vec![], Some(P::nullable(obj())), |a| {
        let mut out = Map::new();
        for v in a.into_values() {
            if let Value::Object(m) = v {
                out.extend(m);
            }
        }
        Ok(Value::Object(out))
    });
    def("lookup", vec![obj(), s()], Some(any()), lookup);
    def("coalesce", vec![], Some(any()), |a| {
        a.into_values()
            .into_iter()
            .find(|v| !matches!(v, Value::Null) && v.as_str() != Some(""))
            .ok_or_else(|| "no non-null, non-empty argument".to_string())
    });
    def("replace", vec![s(), s(), s()], None, |a| {
        let (text, from, to) = (string(&a, 0), string(&a, 1), string(&a, 2));
        if from.is_empty() {
            return Err("the substring to replace must not be empty".into());
        }
        Ok(Value::String(text.replace(from, to)))
    });
    def("startswith", vec![s(), s()], None, |a| Ok(Value::Bool(string(&a, 0).starts_with(string(&a, 1)))));
    def("endswith", vec![s(), s()], None, |a| Ok(Value::Bool(string(&a, 0).ends_with(string(&a, 1)))));
    defs
}

// Parameter types are checked by hcl-rs before a function runs, so these accessors see the
// declared types; they still fall back to empty values rather than panic.
fn string(a: &FuncArgs, i: usize) -> &str {
    a.get(i).and_then(Value::as_str).unwrap_or_default()
}

fn array(a: &FuncArgs, i: usize) -> &[Value] {
    a.get(i).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn object(a: &FuncArgs, i: usize) -> Option<&Map<String, Value>> {
    a.get(i).and_then(Value::as_object)
}

fn array_owned(v: Value) -> Vec<Value> {
    match v {
        Value::Array(v) => v,
        _ => Vec::new(),
    }
}

fn distinct(values: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(values.len());
    for v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Sets have no order of their own: strings come out sorted, like Terraform's sets of strings.
pub fn to_set(values: Vec<Value>) -> Vec<Value> {
    let mut out = distinct(values);
    if out.iter().all(|v| v.is_string()) {
        out.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    out
}

fn flatten_into(values: &[Value], out: &mut Vec<Value>) {
    for v in values {
        match v {
            Value::Array(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

fn join(a: FuncArgs) -> Result<Value, String> {
    let sep = string(&a, 0).to_string();
    let parts: Vec<String> = a
        .variadic_args()
        .flat_map(|l| l.as_array().cloned().unwrap_or_default())
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    Ok(Value::String(parts.join(&sep)))
}

fn split(a: FuncArgs) -> Result<Value, String> {
    let (sep, text) = (string(&a, 0), string(&a, 1));
    if sep.is_empty() {
        return Err("the separator must not be empty".into());
    }
    Ok(Value::Array(text.split(sep).map(|p| Value::String(p.to_string())).collect()))
}

fn lookup(a: FuncArgs) -> Result<Value, String> {
    let key = string(&a, 1);
    let found = object(&a, 0).and_then(|m| m.get(key));
    let rest: Vec<&Value> = a.variadic_args().collect();
    if rest.len() > 1 {
        return Err("lookup takes a map, a key and at most one default".into());
    }
    match (found, rest.first()) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok((*default).clone()),
        (None, None) => Err(format!("the map has no key `{key}`; add a default as third argument")),
    }
}

/// Display of a value inside `format` (`%s`/`%v`).
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => hcl::format::to_string(other).unwrap_or_default(),
    }
}

/// `format` with the verbs `%s`, `%v`, `%d`, `%q` and `%%`.
fn format(a: FuncArgs) -> Result<Value, String> {
    let spec = string(&a, 0).to_string();
    let mut args = a.variadic_args();
    let mut out = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next().ok_or("the format ends with a lone `%`")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.next().ok_or_else(|| format!("not enough arguments for `%{verb}`"))?;
        match verb {
            's' | 'v' => out.push_str(&value_to_text(arg)),
            'd' => match arg {
                Value::Number(n) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
                Value::Number(n) => out.push_str(&format!("{}", n.as_f64().unwrap_or_default().trunc())),
                other => return Err(format!("`%d` needs a number, not `{}`", value_to_text(other))),
            },
            'q' => out.push_str(&format!("{:?}", value_to_text(arg))),
            other => return Err(format!("unsupported format verb `%{other}`; use %s, %v, %d, %q or %%")),
        }
    }
    if args.next().is_some() {
        return Err("too many arguments for the format".into());
    }
    Ok(Value::String(out))
}
