//! The executor: a port of Go's `text/template/exec.go` walking the parse
//! tree with `missingkey=zero` (Prometheus's option), Go's argument typing
//! (`evalArg`/`validateType`) and Go's error locations and texts.

use std::borrow::Cow;
use std::rc::Rc;

use super::Data;
use super::ast::{Arg, Branch, Command, List, Node, Number, Pipe, Variable};
use super::error::{TemplateError, line_column};
use super::fmt::sprint_one;
use super::funcs::{Func, Param};
use super::parse::Trees;
use super::value::Value;

/// Deepest recursion of execution (nested pipelines, blocks and template
/// calls); Go allows 100000 template calls, which would overflow a Rust
/// thread's stack.
const MAX_DEPTH: usize = 100;

/// The node being executed, for error messages (Go's `state.node`).
#[derive(Clone, Copy)]
enum At<'a> {
    Node(&'a Node, usize),
    Pipe(&'a Pipe),
    Cmd(&'a Command),
    Arg(&'a Arg),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Node(_, pos) => *pos,
            At::Pipe(p) => p.pos,
            At::Cmd(c) => c.pos,
            At::Arg(a) => a.pos(),
        }
    }

    fn context(&self) -> String {
        match self {
            At::Node(n, _) => n.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Cmd(c) => c.to_string(),
            At::Arg(a) => a.to_string(),
        }
    }
}

/// Why the walk of a list stopped early.
pub(super) enum Flow {
    Break,
    Continue,
    Error(TemplateError),
}

impl From<TemplateError> for Flow {
    fn from(e: TemplateError) -> Self {
        Flow::Error(e)
    }
}

type Result<T> = std::result::Result<T, TemplateError>;

/// Execution state (Go's `state`).
pub(super) struct Exec<'a> {
    /// The top-level template name (Go's `ParseName`).
    name: &'a str,
    /// The template being executed (differs inside `{{template}}`).
    current: &'a str,
    text: &'a str,
    trees: &'a Trees,
    data: &'a Data<'a>,
    vars: Vec<(&'a str, Value<'a>)>,
    node: Option<At<'a>>,
    depth: usize,
    pub(super) out: String,
}

impl<'a> Exec<'a> {
    pub(super) fn new(name: &'a str, text: &'a str, trees: &'a Trees, data: &'a Data<'a>) -> Self {
        let vars = vec![
            ("$", Value::Data(data)),
            ("$labels", Value::Labels(data.labels)),
            ("$externalLabels", Value::Labels(data.external_labels)),
            ("$externalURL", Value::str(data.external_url)),
            ("$value", Value::Float(data.value)),
        ];
        Exec {
            name,
            current: name,
            text,
            trees,
            data,
            vars,
            node: None,
            depth: 0,
            out: String::with_capacity(text.len()),
        }
    }

    /// Runs the main template.
    pub(super) fn run(&mut self) -> Result<()> {
        let dot = Value::Data(self.data);
        match self.walk_list(&dot, &self.trees.root) {
            Ok(()) | Err(Flow::Break | Flow::Continue) => Ok(()),
            Err(Flow::Error(e)) => Err(e),
        }
    }

    fn at(&mut self, at: At<'a>) {
        self.node = Some(at);
    }

    /// Go's `state.errorf`: the message with the current node's location.
    fn error(&self, message: impl Into<String>) -> TemplateError {
        let (pos, context) = self
            .node
            .map_or((0, String::new()), |n| (n.pos(), n.context()));
        let (line, column) = line_column(self.text, pos);
        TemplateError::Exec {
            name: self.name.to_owned(),
            line,
            column,
            template: self.current.to_owned(),
            context,
            message: message.into(),
        }
    }

    fn enter(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        self.depth += 1;
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value<'a>, list: &'a List) -> std::result::Result<(), Flow> {
        self.enter()?;
        let result = list.nodes.iter().try_for_each(|n| self.walk(dot, n));
        self.depth -= 1;
        result
    }

    fn walk(&mut self, dot: &Value<'a>, node: &'a Node) -> std::result::Result<(), Flow> {
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action { pos, pipe } => {
                self.at(At::Node(node, *pos));
                let val = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at(At::Node(node, *pos));
                    self.print_value(&val);
                }
            }
            Node::If(b) => self.walk_if_or_with(node, false, dot, b)?,
            Node::With(b) => self.walk_if_or_with(node, true, dot, b)?,
            Node::Range(b) => self.walk_range(node, dot, b)?,
            Node::Template { pos, name, pipe } => {
                self.at(At::Node(node, *pos));
                self.walk_template(dot, name, pipe.as_ref())?;
            }
            Node::Break => return Err(Flow::Break),
            Node::Continue => return Err(Flow::Continue),
        }
        Ok(())
    }

    /// Go's `printValue`: how an action's result is written.
    fn print_value(&mut self, v: &Value<'a>) {
        match v {
            Value::Nil => self.out.push_str("<no value>"),
            Value::Str(s) | Value::Html(s) => self.out.push_str(s),
            Value::Time(t) => self.out.push_str(&t.to_string()),
            v => self.out.push_str(&sprint_one(v)),
        }
    }

    fn walk_if_or_with(
        &mut self,
        node: &'a Node,
        with: bool,
        dot: &Value<'a>,
        b: &'a Branch,
    ) -> std::result::Result<(), Flow> {
        self.at(At::Node(node, b.pos));
        let mark = self.vars.len();
        let result = (|| {
            let val = self.eval_pipeline(dot, &b.pipe)?;
            if val.truth() {
                self.walk_list(if with { &val } else { dot }, &b.list)
            } else if let Some(e) = &b.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        result
    }

    fn walk_range(
        &mut self,
        node: &'a Node,
        dot: &Value<'a>,
        r: &'a Branch,
    ) -> std::result::Result<(), Flow> {
        self.at(At::Node(node, r.pos));
        let mark0 = self.vars.len();
        let result = self.walk_range_inner(dot, r);
        self.vars.truncate(mark0);
        result
    }

    fn walk_range_inner(
        &mut self,
        dot: &Value<'a>,
        r: &'a Branch,
    ) -> std::result::Result<(), Flow> {
        let val = self.eval_pipeline(dot, &r.pipe)?;
        let mark = self.vars.len();
        let items: Vec<(Value<'a>, Value<'a>)> = match &val {
            Value::Labels(m) => m
                .iter()
                .map(|(k, v)| (Value::str(k.as_str()), Value::str(v.as_str())))
                .collect(),
            Value::Args(m) => m
                .iter()
                .map(|(k, v)| (Value::str(k.clone()), Value::iface(Some(v))))
                .collect(),
            Value::Vector | Value::Nil => Vec::new(),
            v => {
                // Go reports this at the last node the pipeline evaluated.
                let shown = sprint_one(v);
                return Err(self
                    .error(format!("range can't iterate over {shown}"))
                    .into());
            }
        };
        for (index, elem) in &items {
            self.set_range_vars(&r.pipe, index, elem)?;
            let result = self.walk_list(elem, &r.list);
            self.vars.truncate(mark);
            match result {
                Ok(()) | Err(Flow::Continue) => {}
                Err(Flow::Break) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if items.is_empty()
            && let Some(e) = &r.else_list
        {
            return self.walk_list(dot, e);
        }
        Ok(())
    }

    fn set_range_vars(
        &mut self,
        pipe: &'a Pipe,
        index: &Value<'a>,
        elem: &Value<'a>,
    ) -> Result<()> {
        match pipe.decl.as_slice() {
            [] => {}
            [v] if pipe.is_assign => self.set_var(&v.ident[0], elem.clone())?,
            [k, v] if pipe.is_assign => {
                self.set_var(&k.ident[0], index.clone())?;
                self.set_var(&v.ident[0], elem.clone())?;
            }
            decl => {
                // The declared variables are the last ones pushed: the
                // element goes to the last, the key to the one before.
                let mut top = self.vars.iter_mut().rev();
                if let Some(slot) = top.next() {
                    slot.1 = elem.clone();
                }
                if decl.len() > 1
                    && let Some(slot) = top.next()
                {
                    slot.1 = index.clone();
                }
            }
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Value<'a>,
        name: &'a str,
        pipe: Option<&'a Pipe>,
    ) -> std::result::Result<(), Flow> {
        let found = if name == self.name {
            Some((self.name, &self.trees.root))
        } else {
            self.trees
                .defined
                .get_key_value(name)
                .map(|(k, v)| (k.as_str(), v))
        };
        let Some((tname, list)) = found else {
            let quoted = super::strconv::quote(name);
            return Err(self.error(format!("template {quoted} not defined")).into());
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        let vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
        let current = std::mem::replace(&mut self.current, tname);
        let result = self.walk_list(&new_dot, list);
        self.vars = vars;
        self.current = current;
        match result {
            Err(Flow::Error(e)) => Err(Flow::Error(e)),
            _ => Ok(()),
        }
    }

    fn var_value(&self, name: &str) -> Result<Value<'a>> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, name: &str, value: Value<'a>) -> Result<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value<'a>, pipe: &'a Pipe) -> Result<Value<'a>> {
        self.enter()?;
        let result = self.eval_pipeline_inner(dot, pipe);
        self.depth -= 1;
        result
    }

    fn eval_pipeline_inner(&mut self, dot: &Value<'a>, pipe: &'a Pipe) -> Result<Value<'a>> {
        self.at(At::Pipe(pipe));
        let mut value = None;
        for cmd in &pipe.cmds {
            // An interface result is replaced by its dynamic value.
            value = Some(self.eval_command(dot, cmd, value)?.concrete());
        }
        let value = value.unwrap_or(Value::Nil);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(&v.ident[0], value.clone())?;
            } else {
                self.vars.push((v.ident[0].as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Value<'a>>) -> Result<()> {
        if args.len() > 1 || fin.is_some() {
            let first = args.first().map(ToString::to_string).unwrap_or_default();
            return Err(self.error(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value<'a>,
        cmd: &'a Command,
        fin: Option<Value<'a>>,
    ) -> Result<Value<'a>> {
        let Some(first) = cmd.args.first() else {
            return Ok(Value::Nil);
        };
        match first {
            Arg::Field { ident, .. } => {
                self.at(At::Arg(first));
                return self.eval_field_chain(dot.clone(), ident, &cmd.args, fin);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args, fin),
            Arg::Identifier { func, .. } => {
                self.at(At::Arg(first));
                return self.eval_call(dot, func, At::Cmd(cmd), &cmd.args[1..], fin);
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable(v) => return self.eval_variable(first, v, &cmd.args, fin),
            _ => {}
        }
        self.at(At::Arg(first));
        self.not_a_function(&cmd.args, &fin)?;
        match first {
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.error("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { text, .. } => Ok(Value::Str(Cow::Borrowed(text))),
            _ => Err(self.error(format!("can't evaluate command {first}"))),
        }
    }

    /// Go's `idealConstant`: the type a number literal takes untyped.
    fn ideal_constant(&mut self, arg: &'a Arg, n: &Number) -> Result<Value<'a>> {
        self.at(At::Arg(arg));
        let t = &n.text;
        let hex_int = t.len() > 2
            && t.starts_with('0')
            && t[1..].starts_with(['x', 'X'])
            && !t.contains(['p', 'P']);
        if let Some(f) = n.float
            && !hex_int
            && !t.starts_with('\'')
            && t.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return Err(self.error(format!("{t} overflows int")));
        }
        Ok(Value::Nil)
    }

    fn eval_chain(
        &mut self,
        dot: &Value<'a>,
        chain: &'a Arg,
        args: &'a [Arg],
        fin: Option<Value<'a>>,
    ) -> Result<Value<'a>> {
        self.at(At::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            return Ok(Value::Nil);
        };
        if matches!(node.as_ref(), Arg::Nil { .. }) {
            return Err(self.error(format!("indirection through explicit nil in {chain}")));
        }
        let receiver = self.eval_arg(dot, None, node)?;
        self.eval_field_chain(receiver, fields, args, fin)
    }

    fn eval_variable(
        &mut self,
        arg: &'a Arg,
        v: &'a Variable,
        args: &'a [Arg],
        fin: Option<Value<'a>>,
    ) -> Result<Value<'a>> {
        self.at(At::Arg(arg));
        let value = self.var_value(&v.ident[0])?;
        if v.ident.len() == 1 {
            self.not_a_function(args, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(value, &v.ident[1..], args, fin)
    }

    fn eval_field_chain(
        &mut self,
        mut receiver: Value<'a>,
        ident: &'a [String],
        args: &'a [Arg],
        fin: Option<Value<'a>>,
    ) -> Result<Value<'a>> {
        let Some((last, init)) = ident.split_last() else {
            return Ok(receiver);
        };
        for name in init {
            receiver = self.eval_field(name, &[], None, receiver)?;
        }
        self.eval_field(last, args, fin, receiver)
    }

    /// Go's `evalField` on the data struct and on maps (`missingkey=zero`).
    fn eval_field(
        &mut self,
        name: &str,
        args: &[Arg],
        fin: Option<Value<'a>>,
        receiver: Value<'a>,
    ) -> Result<Value<'a>> {
        let has_args = args.len() > 1 || fin.is_some();
        match &receiver {
            Value::Nil => return Ok(Value::Nil),
            Value::Data(d) => {
                let field = match name {
                    "Labels" => Some(Value::Labels(d.labels)),
                    "ExternalLabels" => Some(Value::Labels(d.external_labels)),
                    "ExternalURL" => Some(Value::str(d.external_url)),
                    "Value" => Some(Value::Float(d.value)),
                    _ => None,
                };
                if let Some(field) = field {
                    if has_args {
                        return Err(self.error(format!(
                            "{name} has arguments but cannot be invoked as function"
                        )));
                    }
                    return Ok(field);
                }
            }
            Value::Labels(m) => {
                if has_args {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                let m: &'a std::collections::BTreeMap<String, String> = m;
                return Ok(Value::str(m.get(name).map_or("", String::as_str)));
            }
            Value::Args(m) => {
                if has_args {
                    return Err(self.error(format!("{name} is not a method but has arguments")));
                }
                return Ok(Value::iface(m.get(name)));
            }
            Value::Iface(None) => {
                return Err(self.error(format!("nil pointer evaluating interface {{}}.{name}")));
            }
            Value::Iface(Some(inner)) => {
                // Go looks into the interface but names its type in errors.
                let inner = inner.as_ref().clone();
                if matches!(inner, Value::Data(_) | Value::Labels(_) | Value::Args(_)) {
                    return self.eval_field(name, args, fin, inner);
                }
            }
            _ => {}
        }
        Err(self.error(format!(
            "can't evaluate field {name} in type {}",
            receiver.type_name()
        )))
    }

    /// Go's `evalCall` for template functions.
    fn eval_call(
        &mut self,
        dot: &Value<'a>,
        func: &'static Func,
        node: At<'a>,
        args: &'a [Arg],
        fin: Option<Value<'a>>,
    ) -> Result<Value<'a>> {
        let name = func.name;
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = func.params.len();
        if func.variadic.is_some() {
            if num_in < num_fixed {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {}",
                    args.len()
                )));
            }
        } else if num_in != num_fixed {
            return Err(self.error(format!(
                "wrong number of args for {name}: want {num_fixed} got {num_in}"
            )));
        }
        if func.is_and_or() {
            let want = name == "or";
            let mut v = Value::Nil;
            for arg in args {
                v = self.eval_arg(dot, Some(Param::Reflect), arg)?;
                if v.truth() == want {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let mut argv = Vec::with_capacity(num_in);
        for (i, arg) in args.iter().enumerate() {
            let typ = func
                .params
                .get(i)
                .copied()
                .or(func.variadic)
                .unwrap_or(Param::Any);
            argv.push(self.eval_arg(dot, Some(typ), arg)?);
        }
        if let Some(f) = fin {
            let typ = match func.variadic {
                Some(v) if num_in > num_fixed => v,
                _ => func.params.get(num_in - 1).copied().unwrap_or(Param::Any),
            };
            argv.push(self.validate_type(f, Some(typ))?);
        }
        (func.call)(self.data, argv).map_err(|msg| {
            self.at(node);
            self.error(format!("error calling {name}: {msg}"))
        })
    }

    /// Go's `validateType`: whether `value` may be passed as `typ`.
    fn validate_type(&self, value: Value<'a>, typ: Option<Param>) -> Result<Value<'a>> {
        let Some(typ) = typ else {
            return Ok(value);
        };
        // Go tries the dynamic value of a non-nil interface.
        let value = match (value, typ) {
            (Value::Iface(Some(v)), Param::Str | Param::QueryResult | Param::Sample) => {
                Rc::unwrap_or_clone(v)
            }
            (v @ Value::Iface(_), Param::Any) => v.concrete(),
            (v, _) => v,
        };
        match (&value, typ) {
            (Value::Nil, Param::Str) => Err(self.error("invalid value; expected string")),
            (Value::Nil, Param::QueryResult) => Ok(Value::Vector),
            (_, Param::Any | Param::Reflect)
            | (Value::Nil, Param::Sample)
            | (Value::Str(_), Param::Str)
            | (Value::Vector, Param::QueryResult) => Ok(value),
            (v, t) => Err(self.error(format!(
                "wrong type for value; expected {}; got {}",
                t.go_type(),
                v.type_name()
            ))),
        }
    }

    /// Go's `evalArg`: evaluates an argument for a parameter of type `typ`
    /// (`None`: the receiver of a field chain).
    fn eval_arg(&mut self, dot: &Value<'a>, typ: Option<Param>, n: &'a Arg) -> Result<Value<'a>> {
        self.at(At::Arg(n));
        let value = match n {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match typ {
                    Some(Param::Str) => Err(self.error("cannot assign nil to string")),
                    Some(Param::QueryResult) => Ok(Value::Vector),
                    _ => Ok(Value::Nil),
                };
            }
            Arg::Field { ident, .. } => self.eval_field_chain(dot.clone(), ident, &[], None)?,
            Arg::Variable(v) => self.eval_variable(n, v, &[], None)?,
            Arg::Pipe(p) => self.eval_pipeline(dot, p)?,
            Arg::Identifier { func, .. } => self.eval_call(dot, func, At::Arg(n), &[], None)?,
            Arg::Chain { .. } => self.eval_chain(dot, n, &[], None)?,
            Arg::Bool { .. } | Arg::Number(_) | Arg::String { .. } => {
                return self.eval_literal(typ, n);
            }
        };
        self.validate_type(value, typ)
    }

    /// A literal argument for a parameter of type `typ`.
    fn eval_literal(&mut self, typ: Option<Param>, n: &'a Arg) -> Result<Value<'a>> {
        match (typ, n) {
            (Some(Param::Str), Arg::String { text, .. }) => Ok(Value::Str(Cow::Borrowed(text))),
            (Some(Param::Str), _) => Err(self.error(format!("expected string; found {n}"))),
            (Some(Param::Any | Param::Reflect) | None, Arg::Bool { value, .. }) => {
                Ok(Value::Bool(*value))
            }
            (Some(Param::Any | Param::Reflect) | None, Arg::Number(num)) => {
                self.ideal_constant(n, num)
            }
            (Some(Param::Any | Param::Reflect) | None, Arg::String { text, .. }) => {
                Ok(Value::Str(Cow::Borrowed(text)))
            }
            (Some(t), _) => {
                Err(self.error(format!("can't handle {n} for arg of type {}", t.go_type())))
            }
            (None, _) => Ok(Value::Nil),
        }
    }
}
