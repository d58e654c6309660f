//! The parser: a port of Go's `text/template/parse/parse.go` (three-token
//! look-ahead, lexical variable scopes, `define`/`block`, `else if`) that
//! reports the same errors on the same lines as Go 1.19, which Prometheus
//! 2.42 is built with.

use std::collections::BTreeMap;

use super::ast::{Arg, Branch, Command, List, Node, Number, Pipe, Variable};
use super::funcs;
use super::lex::{Item, ItemType, lex};
use super::strconv::{self, unquote};

/// Deepest nesting of parentheses and of `if`/`range`/`with`/`define`
/// blocks; it bounds recursion so that no input can exhaust the stack.
const MAX_DEPTH: usize = 40;

/// Variables Prometheus declares before the alert template text.
pub(super) const PRELUDE_VARS: [&str; 4] = ["$labels", "$externalLabels", "$externalURL", "$value"];

/// A parse failure: Go's message and where the offending token is.
#[derive(Debug)]
pub(super) struct ParseError {
    /// The line Go reports (its look-ahead token's).
    pub(super) go_line: usize,
    /// Byte offset of the offending token.
    pub(super) pos: usize,
    pub(super) message: String,
}

/// The parsed main template and the templates it defines.
#[derive(Debug, Clone)]
pub(super) struct Trees {
    pub(super) root: List,
    pub(super) defined: BTreeMap<String, List>,
}

type Result<T> = std::result::Result<T, ParseError>;

/// What `textOrAction` found: a node, or an `{{end}}`/`{{else}}` marker.
enum Parsed {
    Node(Node),
    End { pos: usize },
    Else { pos: usize },
}

impl Parsed {
    /// Where a misplaced `{{end}}`/`{{else}}` keyword is.
    fn pos(&self) -> Option<usize> {
        match self {
            Parsed::End { pos } | Parsed::Else { pos } => Some(*pos),
            Parsed::Node(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Parsed::Node(n) => n.to_string(),
            Parsed::End { .. } => "{{end}}".to_owned(),
            Parsed::Else { .. } => "{{else}}".to_owned(),
        }
    }
}

struct Parser {
    name: String,
    items: std::vec::IntoIter<Item>,
    eof: Item,
    token: [Item; 3],
    /// Position of the token `next` returned last (the offending one).
    last_pos: usize,
    peek_count: usize,
    vars: Vec<String>,
    defined: BTreeMap<String, List>,
    action_line: usize,
    range_depth: usize,
    depth: usize,
}

/// Parses `text` as the body of the template `name`, with the variables of
/// Prometheus's alert prelude in scope.
pub(super) fn parse(name: &str, text: &str) -> Result<Trees> {
    let items = lex(text);
    let eof = items.last().map_or_else(
        || Item {
            typ: ItemType::Eof,
            pos: text.len(),
            val: String::new(),
            line: 1,
        },
        |last| Item {
            typ: ItemType::Eof,
            pos: text.len(),
            val: String::new(),
            line: last.line,
        },
    );
    let mut p = Parser {
        name: name.to_owned(),
        items: items.into_iter(),
        token: [eof.clone(), eof.clone(), eof.clone()],
        eof,
        last_pos: 0,
        peek_count: 0,
        vars: top_level_vars(),
        defined: BTreeMap::new(),
        action_line: 0,
        range_depth: 0,
        depth: 0,
    };
    let root = p.parse_top()?;
    // The main template joins the set last, as in Go's `Tree.add`; with
    // the prelude's actions it is never empty, so it may not be redefined.
    if p.defined.remove(name).is_some_and(|t| !is_empty_tree(&t)) {
        return Err(p.errorf(format!(
            "template: multiple definition of template {}",
            strconv::quote(name)
        )));
    }
    Ok(Trees {
        root,
        defined: p.defined,
    })
}

fn top_level_vars() -> Vec<String> {
    std::iter::once("$")
        .chain(PRELUDE_VARS)
        .map(str::to_owned)
        .collect()
}

/// Go's `IsEmptyTree`: nothing but white space.
fn is_empty_tree(list: &List) -> bool {
    list.nodes
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

fn is_term_start(t: ItemType) -> bool {
    matches!(
        t,
        ItemType::Bool
            | ItemType::CharConstant
            | ItemType::Complex
            | ItemType::Dot
            | ItemType::Field
            | ItemType::Identifier
            | ItemType::Number
            | ItemType::Nil
            | ItemType::RawString
            | ItemType::String
            | ItemType::Variable
            | ItemType::LeftParen
    )
}

impl Parser {
    fn lex_next(&mut self) -> Item {
        self.items.next().unwrap_or_else(|| self.eof.clone())
    }

    fn next(&mut self) -> Item {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex_next();
        }
        self.last_pos = self.token[self.peek_count].pos;
        self.token[self.peek_count].clone()
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item, t1: Item) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> Item {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1].clone();
        }
        self.peek_count = 1;
        self.token[0] = self.lex_next();
        self.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let t = self.next();
            if t.typ != ItemType::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let t = self.next_non_space();
        self.backup();
        t
    }

    /// A misplaced `{{end}}`/`{{else}}`, positioned at its keyword.
    fn unexpected_marker(&self, found: &Parsed, context: Option<&str>) -> ParseError {
        let mut e = match context {
            Some(c) => self.errorf(format!("unexpected {} in {c}", found.describe())),
            None => self.errorf(format!("unexpected {}", found.describe())),
        };
        if let Some(pos) = found.pos() {
            e.pos = pos;
        }
        e
    }

    fn errorf(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            go_line: self.token[0].line,
            pos: self.last_pos,
            message: message.into(),
        }
    }

    fn unexpected(&self, token: &Item, context: &str) -> ParseError {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != token.line {
                extra = format!(" in action started at {}:{}", self.name, self.action_line);
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_owned();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> Result<Item> {
        let token = self.next_non_space();
        if token.typ != expected {
            return Err(self.unexpected(&token, context));
        }
        Ok(token)
    }

    fn enter(&mut self, message: &str) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(self.errorf(message));
        }
        self.depth += 1;
        Ok(())
    }

    fn add(&mut self, name: &str, root: List) -> Result<()> {
        match self.defined.get(name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&root) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        strconv::quote(name)
                    )));
                }
            }
            _ => {
                self.defined.insert(name.to_owned(), root);
            }
        }
        Ok(())
    }

    /// Go's `Tree.parse`: the top level, where `{{define}}` is allowed.
    fn parse_top(&mut self) -> Result<List> {
        let mut root = List::default();
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.nodes.push(n),
                other => return Err(self.unexpected_marker(&other, None)),
            }
        }
        Ok(root)
    }

    /// Runs `f` as the body of a separate tree (`define`, `block`): fresh
    /// variables and range depth.
    fn in_new_tree<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_owned()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let action_line = std::mem::replace(&mut self.action_line, 0);
        self.enter("max nesting depth exceeded")?;
        let result = f(self);
        self.depth -= 1;
        self.vars = vars;
        self.range_depth = range_depth;
        self.action_line = action_line;
        result
    }

    fn parse_definition(&mut self) -> Result<()> {
        const CONTEXT: &str = "define clause";
        self.in_new_tree(|p| {
            let token = p.next_non_space();
            if !matches!(token.typ, ItemType::String | ItemType::RawString) {
                return Err(p.unexpected(&token, CONTEXT));
            }
            let name = unquote(&token.val).ok_or_else(|| p.errorf("invalid syntax"))?;
            p.expect(ItemType::RightDelim, CONTEXT)?;
            let (list, end) = p.item_list()?;
            if !matches!(end, Parsed::End { .. }) {
                return Err(p.unexpected_marker(&end, Some(CONTEXT)));
            }
            p.add(&name, list)
        })
    }

    /// Go's `itemList`: nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> Result<(List, Parsed)> {
        let mut list = List::default();
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                end => return Ok((list, end)),
            }
        }
        Err(self.errorf("unexpected EOF"))
    }

    fn text_or_action(&mut self) -> Result<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => Ok(Parsed::Node(Node::Text(token.val))),
            ItemType::LeftDelim => {
                self.action_line = token.line;
                let result = self.action();
                self.action_line = 0;
                result
            }
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> Result<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break => return self.break_control(Node::Break, "{{break}}"),
            ItemType::Continue => return self.break_control(Node::Continue, "{{continue}}"),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End { pos: token.pos });
            }
            ItemType::If => return self.if_control().map(Parsed::Node),
            ItemType::Range => {
                let b = self.parse_control(false, "range")?;
                return Ok(Parsed::Node(Node::Range(b)));
            }
            ItemType::Template => return self.template_control().map(Parsed::Node),
            ItemType::With => {
                let b = self.parse_control(false, "with")?;
                return Ok(Parsed::Node(Node::With(b)));
            }
            _ => {}
        }
        self.backup();
        let token = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action {
            pos: token.pos,
            pipe,
        }))
    }

    fn break_control(&mut self, node: Node, name: &str) -> Result<Parsed> {
        let token = self.next_non_space();
        if token.typ != ItemType::RightDelim {
            return Err(self.unexpected(&token, name));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{name} outside {{{{range}}}}")));
        }
        Ok(Parsed::Node(node))
    }

    fn if_control(&mut self) -> Result<Node> {
        Ok(Node::If(self.parse_control(true, "if")?))
    }

    fn parse_control(&mut self, allow_else_if: bool, context: &str) -> Result<Branch> {
        self.enter("max nesting depth exceeded")?;
        let vars = self.vars.len();
        let result = self.parse_control_body(allow_else_if, context);
        self.vars.truncate(vars);
        self.depth -= 1;
        result
    }

    fn parse_control_body(&mut self, allow_else_if: bool, context: &str) -> Result<Branch> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        let is_range = context == "range";
        if is_range {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if is_range {
            self.range_depth -= 1;
        }
        let (list, next) = listed?;
        let else_list = match next {
            Parsed::Else { .. } if allow_else_if && self.peek().typ == ItemType::If => {
                self.next();
                Some(List {
                    nodes: vec![self.if_control()?],
                })
            }
            Parsed::Else { .. } => {
                let (else_list, next) = self.item_list()?;
                if !matches!(next, Parsed::End { .. }) {
                    let mut e = self.errorf(format!("expected end; found {}", next.describe()));
                    e.pos = next.pos().unwrap_or(e.pos);
                    return Err(e);
                }
                Some(else_list)
            }
            _ => None,
        };
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn else_control(&mut self) -> Result<Parsed> {
        let pos = self.last_pos;
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If {
            return Ok(Parsed::Else { pos });
        }
        self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else { pos })
    }

    fn template_name(&mut self, token: &Item, context: &str) -> Result<String> {
        match token.typ {
            ItemType::String | ItemType::RawString => {
                unquote(&token.val).ok_or_else(|| self.errorf("invalid syntax"))
            }
            _ => Err(self.unexpected(token, context)),
        }
    }

    fn block_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let (list, end) = self.in_new_tree(|p| p.item_list())?;
        if !matches!(end, Parsed::End { .. }) {
            return Err(self.unexpected_marker(&end, Some(CONTEXT)));
        }
        self.add(&name, list)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.template_name(&token, CONTEXT)?;
        let pipe = if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, ItemType::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> Result<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let next = self.peek_non_space();
            match next.typ {
                ItemType::Assign | ItemType::Declare => {
                    pipe.is_assign = next.typ == ItemType::Assign;
                    self.next_non_space();
                    pipe.decl.push(new_variable(v.pos, &v.val));
                    self.vars.push(v.val);
                }
                ItemType::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(new_variable(v.pos, &v.val));
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().typ {
                            ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                                continue;
                            }
                            _ => return Err(self.errorf("range can only initialize variables")),
                        }
                    }
                    return Err(self.errorf(format!("too many declarations in {context}")));
                }
                _ if after.typ == ItemType::Space => self.backup3(v, after),
                _ => self.backup2(v),
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            if token.typ == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            if !is_term_start(token.typ) {
                return Err(self.unexpected(&token, context));
            }
            self.backup();
            let cmd = self.command()?;
            pipe.cmds.push(cmd);
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Result<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number(_)
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command"));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let t = self.next();
            fields.push(t.val[1..].to_owned());
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(fields);
                Arg::Field { pos, ident }
            }
            Arg::Variable(mut v) => {
                v.ident.extend(fields);
                Arg::Variable(Variable {
                    pos,
                    ident: v.ident,
                })
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                let text = strconv::quote(&node.to_string());
                return Err(self.errorf(format!("unexpected . after term {text}")));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                if token.val == "query" {
                    return Err(self.errorf(
                        "function \"query\" is not supported: templates cannot run PromQL queries here",
                    ));
                }
                match funcs::lookup(&token.val) {
                    Some(func) => Arg::Identifier { pos, func },
                    None => {
                        let name = strconv::quote(&token.val);
                        return Err(self.errorf(format!("function {name} not defined")));
                    }
                }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                let v = new_variable(pos, &token.val);
                if !self.vars.iter().any(|name| *name == v.ident[0]) {
                    let name = strconv::quote(&v.ident[0]);
                    return Err(self.errorf(format!("undefined variable {name}")));
                }
                Arg::Variable(v)
            }
            ItemType::Field => Arg::Field {
                pos,
                ident: token.val[1..].split('.').map(str::to_owned).collect(),
            },
            ItemType::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let n = self.number(&token)?;
                Arg::Number(n)
            }
            ItemType::LeftParen => {
                self.enter("max expression depth exceeded")?;
                let pipe = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            ItemType::String | ItemType::RawString => {
                let text = unquote(&token.val).ok_or_else(|| self.errorf("invalid syntax"))?;
                Arg::String {
                    pos,
                    quoted: token.val,
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    /// Go's `newNumber` (complex numbers are not supported).
    fn number(&self, token: &Item) -> Result<Number> {
        let text = &token.val;
        let mut n = Number {
            pos: token.pos,
            text: text.clone(),
            int: None,
            uint: None,
            float: None,
        };
        if token.typ == ItemType::CharConstant {
            let (c, tail) = strconv::unquote_char(&text[1..], '\'')
                .ok_or_else(|| self.errorf("invalid syntax"))?;
            if tail != "'" {
                return Err(self.errorf(format!("malformed character constant: {text}")));
            }
            n.int = Some(i64::from(u32::from(c)));
            n.uint = Some(u64::from(u32::from(c)));
            n.float = Some(f64::from(u32::from(c)));
            return Ok(n);
        }
        if token.typ == ItemType::Complex || text.ends_with('i') {
            return Err(self.errorf(format!("complex number {text} is not supported")));
        }
        let u = strconv::parse_uint(text).ok();
        n.uint = u;
        if let Ok(i) = strconv::parse_int(text) {
            n.int = Some(i);
            if i == 0 {
                n.uint = Some(u.unwrap_or(0));
            }
        }
        if let Some(i) = n.int {
            n.float = Some(i as f64);
        } else if let Some(u) = n.uint {
            n.float = Some(u as f64);
        } else if let Ok(f) = strconv::parse_float(text) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                let text = strconv::quote(text);
                return Err(self.errorf(format!("integer overflow: {text}")));
            }
            n.float = Some(f);
            // Go's float64(int64(f)) == f, without Rust's saturation.
            let two_63 = -(i64::MIN as f64);
            if (-two_63..two_63).contains(&f) && (f as i64) as f64 == f {
                n.int = Some(f as i64);
            }
            if (0.0..u64::MAX as f64).contains(&f) && (f as u64) as f64 == f {
                n.uint = Some(f as u64);
            }
        }
        if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
            let text = strconv::quote(text);
            return Err(self.errorf(format!("illegal number syntax: {text}")));
        }
        Ok(n)
    }
}

fn new_variable(pos: usize, ident: &str) -> Variable {
    Variable {
        pos,
        ident: ident.split('.').map(str::to_owned).collect(),
    }
}
