//! A small Verilog-2005 AST and its pretty-printer.
//!
//! The emitter builds every module as a [`Module`] value and prints it, so
//! declarations, port lists, indentation and naming are uniform and the
//! output is byte-identical for the same input (golden-tested). Structure is
//! modelled down to statements; expressions are a small tree with a
//! [`Expr::Raw`] escape for the arithmetic the emitter spells out itself.

use std::fmt::Write as _;

/// A Verilog expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A signal or parameter name.
    Id(String),
    /// A sized unsigned literal: `width'dvalue`.
    Lit {
        /// Bits (at least 1).
        width: u32,
        /// Value (must fit).
        value: u64,
    },
    /// Expression text printed as is (already parenthesised where needed).
    Raw(String),
    /// `(a op b)`.
    Bin(Box<Expr>, &'static str, Box<Expr>),
    /// `op(a)` for a unary operator such as `!` or `~`.
    Un(&'static str, Box<Expr>),
    /// `(c ? a : b)`.
    Tern(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `a[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `a[hi:lo]`.
    Slice(Box<Expr>, u32, u32),
    /// `{a, b, …}`.
    Concat(Vec<Expr>),
}

impl Expr {
    /// Prints the expression.
    pub fn render(&self) -> String {
        match self {
            Expr::Id(s) | Expr::Raw(s) => s.clone(),
            Expr::Lit { width, value } => format!("{width}'d{value}"),
            Expr::Bin(a, op, b) => format!("({} {op} {})", a.render(), b.render()),
            Expr::Un(op, a) => format!("{op}{}", a.render()),
            Expr::Tern(c, a, b) => format!("({} ? {} : {})", c.render(), a.render(), b.render()),
            Expr::Index(a, i) => format!("{}[{}]", a.render(), i.render()),
            Expr::Slice(a, hi, lo) => {
                if hi == lo {
                    format!("{}[{hi}]", a.render())
                } else {
                    format!("{}[{hi}:{lo}]", a.render())
                }
            }
            Expr::Concat(v) => format!("{{{}}}", v.iter().map(Expr::render).collect::<Vec<_>>().join(", ")),
        }
    }

    /// `self op other`.
    pub fn bin(self, op: &'static str, other: impl Into<Expr>) -> Expr {
        Expr::Bin(Box::new(self), op, Box::new(other.into()))
    }

    /// `self[hi:lo]`.
    pub fn slice(self, hi: u32, lo: u32) -> Expr {
        Expr::Slice(Box::new(self), hi, lo)
    }

    /// `self[i]`.
    pub fn index(self, i: impl Into<Expr>) -> Expr {
        Expr::Index(Box::new(self), Box::new(i.into()))
    }
}

impl From<&str> for Expr {
    fn from(s: &str) -> Self {
        Expr::Raw(s.to_string())
    }
}

impl From<String> for Expr {
    fn from(s: String) -> Self {
        Expr::Raw(s)
    }
}

/// A name.
pub fn id(s: impl Into<String>) -> Expr {
    Expr::Id(s.into())
}

/// A sized literal.
pub fn lit(width: u32, value: u64) -> Expr {
    Expr::Lit { width, value }
}

/// `c ? a : b`.
pub fn tern(c: impl Into<Expr>, a: impl Into<Expr>, b: impl Into<Expr>) -> Expr {
    Expr::Tern(Box::new(c.into()), Box::new(a.into()), Box::new(b.into()))
}

/// A port direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// `input wire`.
    In,
    /// `output wire` or `output reg`.
    Out,
}

/// A module port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Direction.
    pub dir: Dir,
    /// Name.
    pub name: String,
    /// Width in bits.
    pub width: u32,
    /// Output driven from an `always` block.
    pub reg: bool,
    /// One-line description.
    pub doc: String,
}

/// A module parameter (overridable at instantiation or by the simulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Default value.
    pub value: i64,
    /// One-line description.
    pub doc: String,
}

/// A statement inside an `always` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stmt {
    /// `lhs <= rhs;`
    Nb(Expr, Expr),
    /// `lhs = rhs;`
    Bl(Expr, Expr),
    /// `if (c) … else …`.
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// `case (sel) labels: body … default: body endcase`.
    Case(Expr, Vec<(Vec<Expr>, Vec<Stmt>)>, Vec<Stmt>),
    /// `for (v = from; v < to; v = v + 1) body` over an `integer` loop variable.
    For(String, u64, u64, Vec<Stmt>),
    /// `// text`.
    Comment(String),
}

/// The kind of an `always` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Always {
    /// `always @(posedge clk)`.
    Posedge(String),
    /// `always @*`.
    Comb,
}

/// An item in a module body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `// text` (one line each).
    Comment(Vec<String>),
    /// An empty line.
    Blank,
    /// `localparam [w-1:0] NAME = value;` (width 0: untyped integer).
    Localparam {
        /// Name.
        name: String,
        /// Width (0 for an integer parameter).
        width: u32,
        /// Value.
        value: u64,
        /// Trailing comment.
        doc: String,
    },
    /// `wire [w-1:0] name;`.
    Wire {
        /// Name.
        name: String,
        /// Width.
        width: u32,
        /// Trailing comment.
        doc: String,
    },
    /// `reg [w-1:0] name [0:depth-1];` (depth 0: a plain register).
    Reg {
        /// Name.
        name: String,
        /// Width.
        width: u32,
        /// Array depth (0 for none).
        depth: u64,
        /// Trailing comment.
        doc: String,
    },
    /// `integer name;` (loop variables of `always` blocks).
    Integer(String),
    /// `assign lhs = rhs;`.
    Assign(Expr, Expr),
    /// An `always` block.
    Always(Always, Vec<Stmt>),
    /// A module instance.
    Instance(Instance),
    /// `generate for (genvar …) begin : label … end endgenerate`.
    GenFor {
        /// Genvar name.
        var: String,
        /// Iterations `0..count`.
        count: u64,
        /// Block label.
        label: String,
        /// Body (may refer to the genvar).
        body: Vec<Item>,
    },
    /// `function [w-1:0] name; input …; begin body end endfunction`.
    Function {
        /// Name.
        name: String,
        /// Result width.
        width: u32,
        /// Inputs (name, width).
        inputs: Vec<(String, u32)>,
        /// Local variables (name, width).
        locals: Vec<(String, u32)>,
        /// Body (assigns the function name).
        body: Vec<Stmt>,
        /// Comment line above it.
        doc: String,
    },
    /// A verilator lint pragma pair around items: `/* verilator lint_off X */ … lint_on`.
    LintOff(String, Vec<Item>),
}

/// A module instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Module name.
    pub module: String,
    /// Instance name.
    pub name: String,
    /// Parameter overrides.
    pub params: Vec<(String, Expr)>,
    /// Port connections.
    pub conns: Vec<(String, Expr)>,
}

/// A Verilog module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Name (also its file name, `<name>.v`).
    pub name: String,
    /// Header comment lines.
    pub doc: Vec<String>,
    /// Parameters.
    pub params: Vec<Param>,
    /// Ports.
    pub ports: Vec<Port>,
    /// Body.
    pub items: Vec<Item>,
    /// Verilator lint rules switched off for the whole module (ports
    /// included), each with the reason printed next to the pragma.
    pub lint_off: Vec<(String, String)>,
}

impl Module {
    /// An empty module.
    pub fn new(name: impl Into<String>) -> Self {
        Module {
            name: name.into(),
            doc: Vec::new(),
            params: Vec::new(),
            ports: Vec::new(),
            items: Vec::new(),
            lint_off: Vec::new(),
        }
    }

    /// Adds an input.
    pub fn input(&mut self, name: &str, width: u32, doc: &str) {
        self.ports.push(Port { dir: Dir::In, name: name.into(), width, reg: false, doc: doc.into() });
    }

    /// Adds an output driven by `assign`.
    pub fn output(&mut self, name: &str, width: u32, doc: &str) {
        self.ports.push(Port { dir: Dir::Out, name: name.into(), width, reg: false, doc: doc.into() });
    }

    /// Adds an output driven from an `always` block.
    pub fn output_reg(&mut self, name: &str, width: u32, doc: &str) {
        self.ports.push(Port { dir: Dir::Out, name: name.into(), width, reg: true, doc: doc.into() });
    }

    /// Adds a parameter.
    pub fn param(&mut self, name: &str, value: i64, doc: &str) {
        self.params.push(Param { name: name.into(), value, doc: doc.into() });
    }

    /// Appends an item.
    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }

    /// Appends a wire.
    pub fn wire(&mut self, name: &str, width: u32, doc: &str) {
        self.items.push(Item::Wire { name: name.into(), width, doc: doc.into() });
    }

    /// Appends a wire and its continuous assignment.
    pub fn wire_assign(&mut self, name: &str, width: u32, rhs: impl Into<Expr>) {
        self.items.push(Item::Wire { name: name.into(), width, doc: String::new() });
        self.items.push(Item::Assign(id(name), rhs.into()));
    }

    /// Appends a register.
    pub fn reg(&mut self, name: &str, width: u32, doc: &str) {
        self.items.push(Item::Reg { name: name.into(), width, depth: 0, doc: doc.into() });
    }

    /// Appends `assign lhs = rhs;`.
    pub fn assign(&mut self, lhs: impl Into<Expr>, rhs: impl Into<Expr>) {
        self.items.push(Item::Assign(lhs.into(), rhs.into()));
    }

    /// Appends a comment block.
    pub fn comment(&mut self, text: &str) {
        self.items.push(Item::Comment(text.lines().map(str::to_string).collect()));
    }

    /// Appends a localparam.
    pub fn localparam(&mut self, name: &str, width: u32, value: u64, doc: &str) {
        self.items.push(Item::Localparam { name: name.into(), width, value, doc: doc.into() });
    }

    /// Prints the module.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for d in &self.doc {
            if d.is_empty() {
                s.push_str("//\n");
            } else {
                let _ = writeln!(s, "// {d}");
            }
        }
        for (rule, why) in &self.lint_off {
            let _ = writeln!(s, "/* verilator lint_off {rule} */  // {why}");
        }
        let _ = write!(s, "module {}", self.name);
        if !self.params.is_empty() {
            s.push_str(" #(\n");
            for (i, p) in self.params.iter().enumerate() {
                let comma = if i + 1 < self.params.len() { "," } else { "" };
                let _ = writeln!(s, "  parameter integer {} = {}{comma}{}", p.name, p.value, trailing(&p.doc));
            }
            s.push(')');
        }
        s.push_str(" (\n");
        for (i, p) in self.ports.iter().enumerate() {
            let comma = if i + 1 < self.ports.len() { "," } else { "" };
            let dir = match (p.dir, p.reg) {
                (Dir::In, _) => "input  wire",
                (Dir::Out, false) => "output wire",
                (Dir::Out, true) => "output reg ",
            };
            let _ = writeln!(s, "  {dir} {}{}{comma}{}", range(p.width), p.name, trailing(&p.doc));
        }
        s.push_str(");\n");
        for it in &self.items {
            render_item(it, 1, &mut s);
        }
        s.push_str("endmodule\n");
        for (rule, _) in &self.lint_off {
            let _ = writeln!(s, "/* verilator lint_on {rule} */");
        }
        s
    }
}

fn trailing(doc: &str) -> String {
    if doc.is_empty() { String::new() } else { format!("  // {doc}") }
}

/// `[w-1:0] ` or nothing for one bit.
fn range(width: u32) -> String {
    if width <= 1 { String::new() } else { format!("[{}:0] ", width - 1) }
}

fn pad(level: usize) -> String {
    "  ".repeat(level)
}

fn render_item(it: &Item, level: usize, s: &mut String) {
    let p = pad(level);
    match it {
        Item::Comment(lines) => {
            for l in lines {
                if l.is_empty() {
                    let _ = writeln!(s, "{p}//");
                } else {
                    let _ = writeln!(s, "{p}// {l}");
                }
            }
        }
        Item::Blank => s.push('\n'),
        Item::Localparam { name, width, value, doc } => {
            if *width == 0 {
                let _ = writeln!(s, "{p}localparam integer {name} = {value};{}", trailing(doc));
            } else {
                let _ = writeln!(s, "{p}localparam [{}:0] {name} = {width}'d{value};{}", width - 1, trailing(doc));
            }
        }
        Item::Wire { name, width, doc } => {
            let _ = writeln!(s, "{p}wire {}{name};{}", range(*width), trailing(doc));
        }
        Item::Reg { name, width, depth, doc } => {
            if *depth == 0 {
                let _ = writeln!(s, "{p}reg {}{name};{}", range(*width), trailing(doc));
            } else {
                let _ = writeln!(s, "{p}reg {}{name} [0:{}];{}", range(*width), depth - 1, trailing(doc));
            }
        }
        Item::Integer(name) => {
            let _ = writeln!(s, "{p}integer {name};");
        }
        Item::Assign(l, r) => {
            let _ = writeln!(s, "{p}assign {} = {};", l.render(), r.render());
        }
        Item::Always(kind, body) => {
            let head = match kind {
                Always::Posedge(clk) => format!("always @(posedge {clk})"),
                Always::Comb => "always @*".to_string(),
            };
            let _ = writeln!(s, "{p}{head} begin");
            for st in body {
                render_stmt(st, level + 1, s);
            }
            let _ = writeln!(s, "{p}end");
        }
        Item::Instance(inst) => {
            let _ = write!(s, "{p}{}", inst.module);
            if !inst.params.is_empty() {
                s.push_str(" #(\n");
                for (i, (n, v)) in inst.params.iter().enumerate() {
                    let comma = if i + 1 < inst.params.len() { "," } else { "" };
                    let _ = writeln!(s, "{p}  .{n}({}){comma}", v.render());
                }
                let _ = write!(s, "{p})");
            }
            let _ = writeln!(s, " {} (", inst.name);
            for (i, (n, v)) in inst.conns.iter().enumerate() {
                let comma = if i + 1 < inst.conns.len() { "," } else { "" };
                let _ = writeln!(s, "{p}  .{n}({}){comma}", v.render());
            }
            let _ = writeln!(s, "{p});");
        }
        Item::GenFor { var, count, label, body } => {
            let _ = writeln!(s, "{p}genvar {var};");
            let _ = writeln!(s, "{p}generate");
            let _ = writeln!(s, "{p}  for ({var} = 0; {var} < {count}; {var} = {var} + 1) begin : {label}");
            for b in body {
                render_item(b, level + 2, s);
            }
            let _ = writeln!(s, "{p}  end");
            let _ = writeln!(s, "{p}endgenerate");
        }
        Item::Function { name, width, inputs, locals, body, doc } => {
            if !doc.is_empty() {
                let _ = writeln!(s, "{p}// {doc}");
            }
            let _ = writeln!(s, "{p}function {}{name};", range(*width));
            for (n, w) in inputs {
                let _ = writeln!(s, "{p}  input {}{n};", range(*w));
            }
            for (n, w) in locals {
                let _ = writeln!(s, "{p}  reg {}{n};", range(*w));
            }
            let _ = writeln!(s, "{p}  begin");
            for st in body {
                render_stmt(st, level + 2, s);
            }
            let _ = writeln!(s, "{p}  end");
            let _ = writeln!(s, "{p}endfunction");
        }
        Item::LintOff(rule, items) => {
            let _ = writeln!(s, "{p}/* verilator lint_off {rule} */");
            for b in items {
                render_item(b, level, s);
            }
            let _ = writeln!(s, "{p}/* verilator lint_on {rule} */");
        }
    }
}

fn render_stmt(st: &Stmt, level: usize, s: &mut String) {
    let p = pad(level);
    match st {
        Stmt::Nb(l, r) => {
            let _ = writeln!(s, "{p}{} <= {};", l.render(), r.render());
        }
        Stmt::Bl(l, r) => {
            let _ = writeln!(s, "{p}{} = {};", l.render(), r.render());
        }
        Stmt::If(c, t, e) => {
            let _ = writeln!(s, "{p}if ({}) begin", c.render());
            for x in t {
                render_stmt(x, level + 1, s);
            }
            if e.is_empty() {
                let _ = writeln!(s, "{p}end");
            } else if e.len() == 1 && matches!(e[0], Stmt::If(..)) {
                // `else if` chains print flat.
                let mut inner = String::new();
                render_stmt(&e[0], level, &mut inner);
                let _ = write!(s, "{p}end else {}", inner.trim_start());
            } else {
                let _ = writeln!(s, "{p}end else begin");
                for x in e {
                    render_stmt(x, level + 1, s);
                }
                let _ = writeln!(s, "{p}end");
            }
        }
        Stmt::Case(sel, arms, default) => {
            let _ = writeln!(s, "{p}case ({})", sel.render());
            for (labels, body) in arms {
                let l: Vec<String> = labels.iter().map(Expr::render).collect();
                let _ = writeln!(s, "{p}  {}: begin", l.join(", "));
                for x in body {
                    render_stmt(x, level + 2, s);
                }
                let _ = writeln!(s, "{p}  end");
            }
            let _ = writeln!(s, "{p}  default: begin");
            for x in default {
                render_stmt(x, level + 2, s);
            }
            let _ = writeln!(s, "{p}  end");
            let _ = writeln!(s, "{p}endcase");
        }
        Stmt::For(v, from, to, body) => {
            let _ = writeln!(s, "{p}for ({v} = {from}; {v} < {to}; {v} = {v} + 1) begin");
            for x in body {
                render_stmt(x, level + 1, s);
            }
            let _ = writeln!(s, "{p}end");
        }
        Stmt::Comment(c) => {
            let _ = writeln!(s, "{p}// {c}");
        }
    }
}

/// `lhs <= rhs;`
pub fn nb(lhs: impl Into<Expr>, rhs: impl Into<Expr>) -> Stmt {
    Stmt::Nb(lhs.into(), rhs.into())
}

/// `lhs = rhs;`
pub fn bl(lhs: impl Into<Expr>, rhs: impl Into<Expr>) -> Stmt {
    Stmt::Bl(lhs.into(), rhs.into())
}

/// `if (c) then` without an else.
pub fn if_(c: impl Into<Expr>, then: Vec<Stmt>) -> Stmt {
    Stmt::If(c.into(), then, Vec::new())
}

/// `if (c) then else els`.
pub fn if_else(c: impl Into<Expr>, then: Vec<Stmt>, els: Vec<Stmt>) -> Stmt {
    Stmt::If(c.into(), then, els)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_a_small_module() {
        let mut m = Module::new("counter");
        m.doc.push("A counter.".into());
        m.param("W", 8, "width");
        m.input("clk", 1, "clock");
        m.input("en", 1, "");
        m.output_reg("q", 8, "count");
        m.push(Item::Always(
            Always::Posedge("clk".into()),
            vec![if_else("en", vec![nb("q", id("q").bin("+", lit(8, 1)))], vec![Stmt::Comment("hold".into())])],
        ));
        let want = "// A counter.\nmodule counter #(\n  parameter integer W = 8  // width\n) (\n  input  wire clk,  // clock\n  input  wire en,\n  output reg  [7:0] q  // count\n);\n  always @(posedge clk) begin\n    if (en) begin\n      q <= (q + 8'd1);\n    end else begin\n      // hold\n    end\n  end\nendmodule\n";
        assert_eq!(m.render(), want);
    }

    #[test]
    fn else_if_chains_print_flat() {
        let s = if_else("a", vec![nb("x", "1'b1")], vec![if_else("b", vec![nb("x", "1'b0")], vec![])]);
        let mut out = String::new();
        render_stmt(&s, 0, &mut out);
        assert_eq!(out, "if (a) begin\n  x <= 1'b1;\nend else if (b) begin\n  x <= 1'b0;\nend\n");
    }

    #[test]
    fn expressions() {
        let e = tern(id("c"), id("a").slice(3, 0), Expr::Concat(vec![lit(2, 0), id("b").index(lit(1, 1))]));
        assert_eq!(e.render(), "(c ? a[3:0] : {2'd0, b[1'd1]})");
    }
}
