//! Lowering of action files (`action.yml`): metadata, inputs, outputs and
//! `runs:` for composite, Node and Docker actions.
//!
//! GitHub reads action files loosely (unknown top-level keys are ignored),
//! so unknown keys outside `runs:` are warnings here, not errors.

use crate::ast::{Action, ActionInput, ActionOutput, ActionRuns, SMap};
use crate::diagnostic::Diagnostic;
use crate::span::Spanned;
use crate::yaml::{self, Node, Yaml};

use super::{Ctx, suggest, svalue};

const ACTION_KEYS: &[&str] = &[
    "name",
    "description",
    "author",
    "branding",
    "inputs",
    "outputs",
    "runs",
];
const NODE_VERSIONS: &[&str] = &["node12", "node16", "node20", "node24"];
const USING: &[&str] = &[
    "composite",
    "docker",
    "node12",
    "node16",
    "node20",
    "node24",
];
const COMPOSITE_KEYS: &[&str] = &["using", "steps"];
const NODE_KEYS: &[&str] = &["using", "main", "pre", "pre-if", "post", "post-if"];
const DOCKER_KEYS: &[&str] = &[
    "using",
    "image",
    "args",
    "entrypoint",
    "env",
    "pre-entrypoint",
    "pre-if",
    "post-entrypoint",
    "post-if",
];

/// Parse an action file. Never fails: returns the best AST it could build
/// and every diagnostic, in source order.
pub fn parse_action(file: &str, src: &str) -> (Action, Vec<Diagnostic>) {
    let (root, diags) = yaml::parse(file, src);
    let mut ctx = Ctx::new(file, diags);
    let mut action = Action {
        file: file.to_string(),
        ..Action::default()
    };
    if let Some(root) = root {
        ctx.action(&root, &mut action);
    }
    (action, ctx.finish())
}

impl Ctx<'_> {
    fn action(&mut self, root: &Node, action: &mut Action) {
        action.span = root.span;
        if root.is_null() {
            self.error_hint(
                super::workflow::first_line(root.span),
                "the action file is empty",
                "an action needs at least `name`, `description` and `runs`",
            );
            return;
        }
        let Some(entries) = root.as_map() else {
            self.error_hint(
                root.span,
                format!("an action file must be a mapping, found {}", root.kind()),
                "an action needs at least `name`, `description` and `runs`",
            );
            return;
        };
        let mut has_runs = false;
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name.as_str() {
                "name" => action.name = self.string(value, "`name`").map(|s| s.value),
                "description" => {
                    action.description = self.string(value, "`description`").map(|s| s.value);
                }
                "author" => {
                    self.string(value, "`author`");
                }
                "branding" => self.branding(value),
                "inputs" => action.inputs = self.action_inputs(value),
                "outputs" => action.outputs = self.action_outputs(value),
                "runs" => {
                    has_runs = true;
                    if let Some(runs) = self.runs(value) {
                        action.runs = runs;
                    }
                }
                _ => self.unknown_key_warning(key, &name, ACTION_KEYS, "in the action file"),
            }
        }
        if !has_runs {
            self.error_hint(
                super::workflow::first_line(root.span),
                "the action has no `runs` key",
                "add `runs:` with `using: composite`, `node20` or `docker`",
            );
        }
    }

    /// Like [`Ctx::unknown_key`], as a warning.
    fn unknown_key_warning(&mut self, key: &Node, name: &str, known: &[&str], context: &str) {
        let mut d = Diagnostic::warning(
            self.file,
            key.span,
            format!("unknown key `{name}` {context}"),
        );
        if let Some(best) = suggest::closest(name, known.iter().copied()) {
            d = d.with_hint(format!("did you mean `{best}`?"));
        }
        self.diags.push(d);
    }

    fn branding(&mut self, node: &Node) {
        let Some(entries) = self.map(node, "`branding`") else {
            return;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            match name.as_str() {
                "icon" | "color" => {
                    self.string(value, &format!("`branding.{name}`"));
                }
                _ => self.unknown_key_warning(key, &name, &["icon", "color"], "in `branding`"),
            }
        }
    }

    fn action_inputs(&mut self, node: &Node) -> SMap<ActionInput> {
        let mut out = SMap::new();
        if node.is_null() {
            return out;
        }
        let Some(entries) = self.map(node, "`inputs`") else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            let mut input = ActionInput::default();
            match &value.value {
                Yaml::Null => {}
                Yaml::Map(fields) => {
                    for (field, field_value) in fields {
                        let Some(field_name) = self.key(field) else {
                            continue;
                        };
                        match field_name.as_str() {
                            "description" => {
                                input.description =
                                    self.string(field_value, "`description`").map(|s| s.value);
                            }
                            // Actions in the wild write `required: 'true'`
                            // or `yes`; the runner does not check it.
                            "required" => {
                                input.required = self.loose_bool(field_value, "`required`");
                            }
                            "default" => {
                                if field_value.scalar_text().is_some() {
                                    input.default = Some(svalue(field_value));
                                } else if !field_value.is_null() {
                                    self.wrong_type(field_value, "`default`", "a string");
                                }
                            }
                            "deprecationMessage" => {
                                input.deprecation_message = self
                                    .string(field_value, "`deprecationMessage`")
                                    .map(|s| s.value);
                            }
                            _ => self.unknown_key_warning(
                                field,
                                &field_name,
                                &["description", "required", "default", "deprecationMessage"],
                                &format!("in input `{name}`"),
                            ),
                        }
                    }
                }
                _ => {
                    self.wrong_type(value, &format!("input `{name}`"), "a mapping");
                    continue;
                }
            }
            out.insert(name, (key.span, input));
        }
        out
    }

    /// A boolean written loosely: `true`, `'true'`, `yes`, … Anything else
    /// is a warning and false.
    fn loose_bool(&mut self, node: &Node, what: &str) -> bool {
        match &node.value {
            Yaml::Bool(b) => *b,
            Yaml::String(s) if s == "true" || s == "false" => s == "true",
            _ => {
                let text = node.scalar_text().unwrap_or_default().to_ascii_lowercase();
                let value = matches!(text.as_str(), "true" | "yes" | "y" | "on");
                self.warning(
                    node.span,
                    format!(
                        "{what} should be `true` or `false`, found {}; read as `{value}`",
                        node.kind()
                    ),
                );
                value
            }
        }
    }

    fn action_outputs(&mut self, node: &Node) -> SMap<ActionOutput> {
        let mut out = SMap::new();
        if node.is_null() {
            return out;
        }
        let Some(entries) = self.map(node, "`outputs`") else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            let mut output = ActionOutput::default();
            match &value.value {
                Yaml::Null => {}
                Yaml::Map(fields) => {
                    for (field, field_value) in fields {
                        let Some(field_name) = self.key(field) else {
                            continue;
                        };
                        match field_name.as_str() {
                            "description" => {
                                output.description =
                                    self.string(field_value, "`description`").map(|s| s.value);
                            }
                            "value" => output.value = self.string_value(field_value, "`value`"),
                            _ => self.unknown_key_warning(
                                field,
                                &field_name,
                                &["description", "value"],
                                &format!("in output `{name}`"),
                            ),
                        }
                    }
                }
                _ => {
                    self.wrong_type(value, &format!("output `{name}`"), "a mapping");
                    continue;
                }
            }
            out.insert(name, (key.span, output));
        }
        out
    }

    fn runs(&mut self, node: &Node) -> Option<ActionRuns> {
        let entries = self.map(node, "`runs`")?;
        let Some(using_node) = node.get("using") else {
            self.error_hint(
                node.span,
                "`runs` has no `using`",
                "add `using: composite`, `node20` or `docker`",
            );
            return None;
        };
        let using = self.non_empty_string(using_node, "`using`")?.value;
        let keys = match using.as_str() {
            "composite" => COMPOSITE_KEYS,
            "docker" => DOCKER_KEYS,
            u if NODE_VERSIONS.contains(&u) => NODE_KEYS,
            other if other.starts_with("node") => {
                self.error_hint(
                    using_node.span,
                    format!("unsupported `using: {other}`"),
                    format!("JavaScript actions run on {}", suggest::list(NODE_VERSIONS)),
                );
                return None;
            }
            other => {
                let hint = match suggest::closest(other, USING.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("use {}", suggest::list(USING)),
                };
                self.error_hint(using_node.span, format!("unknown `using: {other}`"), hint);
                return None;
            }
        };
        let context = format!("in `runs` of a `{using}` action");
        for (key, _) in entries {
            let Some(name) = self.key(key) else { continue };
            if !keys.contains(&name.as_str()) {
                self.unknown_key(key, &name, keys, &context);
            }
        }
        let field = |key: &str| node.get(key);
        match using.as_str() {
            "composite" => {
                let Some(steps) = field("steps") else {
                    self.error(node.span, "a composite action needs `steps`");
                    return Some(ActionRuns::Composite { steps: Vec::new() });
                };
                let steps = self.steps(steps, "", true);
                Some(ActionRuns::Composite { steps })
            }
            "docker" => {
                let image = match field("image") {
                    Some(image) => self.non_empty_string(image, "`image`"),
                    None => {
                        self.error(node.span, "a `docker` action needs `image`");
                        None
                    }
                };
                let args =
                    field("args").map_or_else(Vec::new, |args| self.scalar_list(args, "`args`"));
                let entrypoint =
                    field("entrypoint").and_then(|e| self.non_empty_string(e, "`entrypoint`"));
                let env = field("env").map_or_else(SMap::new, |env| {
                    self.scalar_map(env, "`env`", "environment variable")
                });
                for (key, value) in entries {
                    if let Some(
                        name @ ("pre-entrypoint" | "post-entrypoint" | "pre-if" | "post-if"),
                    ) = key.as_str()
                    {
                        self.string(value, &format!("`{name}`"));
                        self.unsupported_key(key, name, "in a docker action");
                    }
                }
                Some(ActionRuns::Docker {
                    image: image?,
                    args,
                    entrypoint,
                    env,
                })
            }
            _ => {
                let main = match field("main") {
                    Some(main) => self.non_empty_string(main, "`main`"),
                    None => {
                        self.error(node.span, format!("a `{using}` action needs `main`"));
                        None
                    }
                };
                let pre = field("pre").and_then(|p| self.non_empty_string(p, "`pre`"));
                let post = field("post").and_then(|p| self.non_empty_string(p, "`post`"));
                let pre_if = field("pre-if").and_then(|p| self.condition(p, "`pre-if`"));
                let post_if = field("post-if").and_then(|p| self.condition(p, "`post-if`"));
                Some(ActionRuns::Node {
                    using,
                    main: main.unwrap_or_else(|| Spanned::new(String::new(), node.span)),
                    pre,
                    post,
                    pre_if,
                    post_if,
                })
            }
        }
    }
}
