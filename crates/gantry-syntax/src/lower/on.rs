//! Lowering of `on:` in all its forms — `on: push`, `on: [push, pull_request]`
//! and the mapping of events to their configuration — including
//! `workflow_dispatch` / `workflow_call` inputs.

use crate::ast::{
    CallOutput, CallSecret, Dispatch, InputDef, InputType, RefFilter, SMap, Triggers, WorkflowCall,
};
use crate::span::{Span, Spanned};
use crate::yaml::{Node, Yaml};

use super::{Ctx, IDENTIFIER_HINT, is_expression, is_identifier, suggest, svalue};

/// A GitHub event: its name, the keys its configuration may have and the
/// activity types it accepts (`None`: any string).
struct EventSpec {
    name: &'static str,
    keys: &'static [&'static str],
    types: Option<&'static [&'static str]>,
}

const PULL_REQUEST_TYPES: &[&str] = &[
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "opened",
    "edited",
    "closed",
    "reopened",
    "synchronize",
    "converted_to_draft",
    "locked",
    "unlocked",
    "enqueued",
    "dequeued",
    "milestoned",
    "demilestoned",
    "ready_for_review",
    "review_requested",
    "review_request_removed",
    "auto_merge_enabled",
    "auto_merge_disabled",
];
const CREATED_EDITED_DELETED: &[&str] = &["created", "edited", "deleted"];
const TYPES: &[&str] = &["types"];
const NONE: &[&str] = &[];
const PULL_REQUEST_KEYS: &[&str] = &[
    "types",
    "branches",
    "branches-ignore",
    "paths",
    "paths-ignore",
];
const PUSH_KEYS: &[&str] = &[
    "branches",
    "branches-ignore",
    "tags",
    "tags-ignore",
    "paths",
    "paths-ignore",
];

const EVENTS: &[EventSpec] = &[
    EventSpec {
        name: "branch_protection_rule",
        keys: TYPES,
        types: Some(CREATED_EDITED_DELETED),
    },
    EventSpec {
        name: "check_run",
        keys: TYPES,
        types: Some(&["completed", "created", "rerequested", "requested_action"]),
    },
    EventSpec {
        name: "check_suite",
        keys: TYPES,
        types: Some(&["completed"]),
    },
    EventSpec {
        name: "create",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "delete",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "deployment",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "deployment_status",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "discussion",
        keys: TYPES,
        types: Some(&[
            "created",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "category_changed",
            "answered",
            "unanswered",
        ]),
    },
    EventSpec {
        name: "discussion_comment",
        keys: TYPES,
        types: Some(CREATED_EDITED_DELETED),
    },
    EventSpec {
        name: "fork",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "gollum",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "image_version",
        keys: &["types", "names", "versions"],
        types: Some(&["created", "ready", "deleted"]),
    },
    EventSpec {
        name: "issue_comment",
        keys: TYPES,
        types: Some(CREATED_EDITED_DELETED),
    },
    EventSpec {
        name: "issues",
        keys: TYPES,
        types: Some(&[
            "opened",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "closed",
            "reopened",
            "assigned",
            "unassigned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "milestoned",
            "demilestoned",
            "typed",
            "untyped",
        ]),
    },
    EventSpec {
        name: "label",
        keys: TYPES,
        types: Some(CREATED_EDITED_DELETED),
    },
    EventSpec {
        name: "merge_group",
        keys: &["types", "branches", "branches-ignore"],
        types: Some(&["checks_requested"]),
    },
    EventSpec {
        name: "milestone",
        keys: TYPES,
        types: Some(&["created", "closed", "opened", "edited", "deleted"]),
    },
    EventSpec {
        name: "page_build",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "project",
        keys: TYPES,
        types: Some(&["created", "closed", "reopened", "edited", "deleted"]),
    },
    EventSpec {
        name: "project_card",
        keys: TYPES,
        types: Some(&["created", "moved", "converted", "edited", "deleted"]),
    },
    EventSpec {
        name: "project_column",
        keys: TYPES,
        types: Some(&["created", "updated", "moved", "deleted"]),
    },
    EventSpec {
        name: "public",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "pull_request",
        keys: PULL_REQUEST_KEYS,
        types: Some(PULL_REQUEST_TYPES),
    },
    EventSpec {
        name: "pull_request_comment",
        keys: TYPES,
        types: Some(CREATED_EDITED_DELETED),
    },
    EventSpec {
        name: "pull_request_review",
        keys: TYPES,
        types: Some(&["submitted", "edited", "dismissed"]),
    },
    EventSpec {
        name: "pull_request_review_comment",
        keys: TYPES,
        types: Some(CREATED_EDITED_DELETED),
    },
    EventSpec {
        name: "pull_request_target",
        keys: PULL_REQUEST_KEYS,
        types: Some(PULL_REQUEST_TYPES),
    },
    EventSpec {
        name: "push",
        keys: PUSH_KEYS,
        types: None,
    },
    EventSpec {
        name: "registry_package",
        keys: TYPES,
        types: Some(&["published", "updated"]),
    },
    EventSpec {
        name: "release",
        keys: TYPES,
        types: Some(&[
            "published",
            "unpublished",
            "created",
            "edited",
            "deleted",
            "prereleased",
            "released",
        ]),
    },
    EventSpec {
        name: "repository_dispatch",
        keys: TYPES,
        types: None,
    },
    EventSpec {
        name: "schedule",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "status",
        keys: NONE,
        types: None,
    },
    EventSpec {
        name: "watch",
        keys: TYPES,
        types: Some(&["started"]),
    },
    EventSpec {
        name: "workflow_call",
        keys: &["inputs", "outputs", "secrets"],
        types: None,
    },
    EventSpec {
        name: "workflow_dispatch",
        keys: &["inputs"],
        types: None,
    },
    EventSpec {
        name: "workflow_run",
        keys: &["types", "workflows", "branches", "branches-ignore"],
        types: Some(&["requested", "completed", "in_progress"]),
    },
];

/// Filters that exclude each other: `branches` with `branches-ignore`, …
const EXCLUSIVE_FILTERS: &[(&str, &str)] = &[
    ("branches", "branches-ignore"),
    ("tags", "tags-ignore"),
    ("paths", "paths-ignore"),
];

impl Ctx<'_> {
    pub(super) fn triggers(&mut self, node: &Node) -> Triggers {
        let mut triggers = Triggers {
            span: node.span,
            ..Triggers::default()
        };
        match &node.value {
            Yaml::Map(entries) => {
                if entries.is_empty() {
                    self.error(node.span, "`on` must list at least one event");
                }
                for (key, value) in entries {
                    let Some(name) = self.key(key) else { continue };
                    if let Some(spec) = self.event_spec(key, &name) {
                        self.event(&mut triggers, spec, key, value);
                    }
                }
            }
            Yaml::Seq(items) => {
                if items.is_empty() {
                    self.error(node.span, "`on` must list at least one event");
                }
                let mut seen: Vec<(&str, Span)> = Vec::new();
                for item in items {
                    let Some(name) = item.as_str() else {
                        self.error(
                            item.span,
                            format!(
                                "each entry of `on` must be an event name, found {}",
                                item.kind()
                            ),
                        );
                        continue;
                    };
                    if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                        self.error_hint(
                            item.span,
                            format!("event `{name}` is listed twice in `on`"),
                            format!("it is first listed {}", Self::first_seen(*first, item.span)),
                        );
                        continue;
                    }
                    seen.push((name, item.span));
                    if let Some(spec) = self.event_spec(item, name) {
                        self.event_without_config(&mut triggers, spec, item);
                    }
                }
            }
            Yaml::String(name) => {
                if let Some(spec) = self.event_spec(node, name) {
                    self.event_without_config(&mut triggers, spec, node);
                }
            }
            _ => self.wrong_type(
                node,
                "`on`",
                "an event name, a list of event names or a mapping of events",
            ),
        }
        triggers
    }

    fn event_spec(&mut self, at: &Node, name: &str) -> Option<&'static EventSpec> {
        if let Some(spec) = EVENTS.iter().find(|e| e.name == name) {
            return Some(spec);
        }
        let hint = match suggest::closest(name, EVENTS.iter().map(|e| e.name)) {
            Some(best) => format!("did you mean `{best}`?"),
            None => "see https://docs.github.com/actions/reference/events-that-trigger-workflows"
                .to_string(),
        };
        self.error_hint(at.span, format!("unknown event `{name}`"), hint);
        None
    }

    /// An event named in `on: push` or `on: [push]`.
    fn event_without_config(&mut self, triggers: &mut Triggers, spec: &EventSpec, at: &Node) {
        let null = Node::new(Yaml::Null, at.span);
        self.event(triggers, spec, at, &null);
    }

    /// One event with its configuration (`value`, null when there is none).
    fn event(&mut self, triggers: &mut Triggers, spec: &EventSpec, key: &Node, value: &Node) {
        // Null configuration: the span of the event name is the useful one.
        let span = if value.is_null() {
            key.span
        } else {
            value.span
        };
        match spec.name {
            "schedule" => triggers.schedule = self.schedule(value),
            "workflow_dispatch" => {
                let mut dispatch = Dispatch {
                    span,
                    ..Dispatch::default()
                };
                if let Some(entries) = self.event_config(spec, value) {
                    for (key, value) in entries {
                        if key.as_str() == Some("inputs") {
                            dispatch.inputs = self.inputs(value, false);
                        }
                    }
                }
                triggers.workflow_dispatch = Some(dispatch);
            }
            "workflow_call" => {
                let mut call = WorkflowCall {
                    span,
                    ..WorkflowCall::default()
                };
                if let Some(entries) = self.event_config(spec, value) {
                    for (key, value) in entries {
                        match key.as_str() {
                            Some("inputs") => call.inputs = self.inputs(value, true),
                            Some("outputs") => call.outputs = self.call_outputs(value),
                            Some("secrets") => call.secrets = self.call_secrets_def(value),
                            _ => {}
                        }
                    }
                }
                triggers.workflow_call = Some(call);
            }
            "push" | "pull_request" | "pull_request_target" => {
                let filter = self.ref_filter(spec, value, span);
                match spec.name {
                    "push" => triggers.push = Some(filter),
                    "pull_request" => triggers.pull_request = Some(filter),
                    _ => triggers.pull_request_target = Some(filter),
                }
            }
            _ => {
                if let Some(entries) = self.event_config(spec, value) {
                    for (key, value) in entries {
                        self.filter_value(spec, key, value);
                    }
                    self.exclusive_filters(spec, entries);
                }
                let config = Spanned::new(value.to_json(), span);
                let name = key.as_str().unwrap_or(spec.name).to_string();
                triggers.other.insert(name, (key.span, config));
            }
        }
    }

    /// The configuration mapping of an event, its keys checked. `None` for
    /// no configuration (null) or a wrong type.
    fn event_config<'n>(
        &mut self,
        spec: &EventSpec,
        value: &'n Node,
    ) -> Option<&'n [(Node, Node)]> {
        match &value.value {
            Yaml::Null => None,
            Yaml::Map(entries) => {
                let context = format!("in `on.{}`", spec.name);
                for (key, _) in entries {
                    let Some(name) = self.key(key) else { continue };
                    if spec.keys.contains(&name.as_str()) {
                        continue;
                    }
                    if spec.keys.is_empty() {
                        self.error(
                            key.span,
                            format!(
                                "event `{}` takes no configuration, found `{name}`",
                                spec.name
                            ),
                        );
                    } else {
                        self.unknown_key(key, &name, spec.keys, &context);
                    }
                }
                Some(entries)
            }
            _ => {
                let expected = if spec.keys.is_empty() {
                    "empty (null)"
                } else {
                    "a mapping"
                };
                let what = format!("the configuration of `{}`", spec.name);
                match value.scalar_text() {
                    Some(text) if spec.keys.contains(&"types") => self.error_hint(
                        value.span,
                        format!("{what} must be {expected}, found {}", value.kind()),
                        format!(
                            "to filter on activity types, write `{}: {{types: [{text}]}}`",
                            spec.name
                        ),
                    ),
                    _ => self.wrong_type(value, &what, expected),
                }
                None
            }
        }
    }

    /// Validate one key of an event configuration: `types` against the
    /// event's activity types, filters as a string or a list of strings.
    /// Returns the strings.
    fn filter_value(
        &mut self,
        spec: &EventSpec,
        key: &Node,
        value: &Node,
    ) -> Option<Vec<Spanned<String>>> {
        let name = key.as_str()?;
        if !spec.keys.contains(&name) {
            return None;
        }
        let what = format!("`on.{}.{name}`", spec.name);
        let values = self.string_list(value, &what, "a string or a list of strings")?;
        if name == "types"
            && let Some(allowed) = spec.types
        {
            for ty in &values {
                if !allowed.contains(&ty.value.as_str()) {
                    let hint = match suggest::closest(&ty.value, allowed.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("`{}` supports {}", spec.name, suggest::list(allowed)),
                    };
                    self.error_hint(
                        ty.span,
                        format!("unknown activity type `{}` for `{}`", ty.value, spec.name),
                        hint,
                    );
                }
            }
        }
        Some(values)
    }

    /// `branches` and `branches-ignore` (and tags, paths) together is an
    /// error, as on GitHub; reported at the second key.
    fn exclusive_filters(&mut self, spec: &EventSpec, entries: &[(Node, Node)]) {
        for (include, exclude) in EXCLUSIVE_FILTERS {
            let find = |name: &str| {
                entries
                    .iter()
                    .find(|(k, _)| k.as_str() == Some(name))
                    .map(|(k, _)| k.span)
            };
            if let (Some(a), Some(b)) = (find(include), find(exclude)) {
                let second = if a.start > b.start { a } else { b };
                self.error_hint(
                    second,
                    format!(
                        "`{include}` and `{exclude}` cannot both be used for `{}`",
                        spec.name
                    ),
                    format!("keep `{include}` and exclude with `!` patterns, e.g. `'!release/**'`"),
                );
            }
        }
    }

    fn ref_filter(&mut self, spec: &EventSpec, value: &Node, span: Span) -> RefFilter {
        let mut filter = RefFilter {
            span,
            ..RefFilter::default()
        };
        let Some(entries) = self.event_config(spec, value) else {
            return filter;
        };
        for (key, value) in entries {
            let values = self.filter_value(spec, key, value);
            match key.as_str() {
                Some("types") => filter.types = values,
                Some("branches") => filter.branches = values,
                Some("branches-ignore") => filter.branches_ignore = values,
                Some("tags") => filter.tags = values,
                Some("tags-ignore") => filter.tags_ignore = values,
                Some("paths") => filter.paths = values,
                Some("paths-ignore") => filter.paths_ignore = values,
                _ => {}
            }
        }
        self.exclusive_filters(spec, entries);
        filter
    }

    /// `schedule: [{cron: '…'}]`. The cron text itself is the plan's to check.
    fn schedule(&mut self, node: &Node) -> Vec<Spanned<String>> {
        let Some(items) = node.as_seq() else {
            self.error_hint(
                node.span,
                format!(
                    "`schedule` must be a list of `cron` entries, found {}",
                    node.kind()
                ),
                "write `schedule: [{cron: '0 3 * * *'}]`",
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let Some(entries) = item.as_map() else {
                self.error_hint(
                    item.span,
                    format!(
                        "each entry of `schedule` must be a mapping, found {}",
                        item.kind()
                    ),
                    "write `- cron: '0 3 * * *'`",
                );
                continue;
            };
            let mut cron = None;
            for (key, value) in entries {
                let Some(name) = self.key(key) else { continue };
                match name.as_str() {
                    "cron" => cron = self.non_empty_string(value, "`cron`"),
                    "timezone" => {
                        self.string(value, "`timezone`");
                        self.warning(
                            key.span,
                            "`timezone` in `schedule` is not supported by Gantry yet; the cron runs in UTC",
                        );
                    }
                    _ => self.unknown_key(key, &name, &["cron", "timezone"], "in `schedule`"),
                }
            }
            match cron {
                Some(cron) => out.push(cron),
                None if item.get("cron").is_none() => {
                    self.error(item.span, "a `schedule` entry needs `cron`");
                }
                None => {}
            }
        }
        out
    }

    /// `inputs:` of `workflow_dispatch` (`call == false`) or `workflow_call`.
    fn inputs(&mut self, node: &Node, call: bool) -> SMap<InputDef> {
        let event = if call {
            "workflow_call"
        } else {
            "workflow_dispatch"
        };
        let mut out = SMap::new();
        let Some(entries) = self.map(node, &format!("`on.{event}.inputs`")) else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if !is_identifier(&name) {
                self.error_hint(
                    key.span,
                    format!("invalid input id `{name}`"),
                    IDENTIFIER_HINT,
                );
            }
            if let Some(def) = self.input_def(&name, key, value, event, call) {
                out.insert(name, (key.span, def));
            }
        }
        out
    }

    fn input_def(
        &mut self,
        name: &str,
        key: &Node,
        node: &Node,
        event: &str,
        call: bool,
    ) -> Option<InputDef> {
        let entries = self.map(node, &format!("input `{name}`"))?;
        let context = format!("in input `{name}` of `{event}`");
        let keys: &[&str] = if call {
            &[
                "description",
                "required",
                "default",
                "type",
                "deprecationMessage",
            ]
        } else {
            &[
                "description",
                "required",
                "default",
                "type",
                "options",
                "deprecationMessage",
            ]
        };
        let mut def = InputDef {
            span: node.span,
            ..InputDef::default()
        };
        let mut type_node = None;
        let mut options_node = None;
        let mut default_node = None;
        for (key, value) in entries {
            let Some(key_name) = self.key(key) else {
                continue;
            };
            if !keys.contains(&key_name.as_str()) {
                self.unknown_key(key, &key_name, keys, &context);
                continue;
            }
            match key_name.as_str() {
                "description" => {
                    def.description = self.string(value, "`description`").map(|s| s.value)
                }
                "required" => match &value.value {
                    Yaml::Bool(b) => def.required = *b,
                    // GitHub does not check `workflow_dispatch` inputs
                    // strictly; a quoted boolean works there.
                    Yaml::String(s) if !call && (s == "true" || s == "false") => {
                        def.required = s == "true";
                        self.warning(
                            value.span,
                            format!("`required` should be a boolean: write `{s}` without quotes"),
                        );
                    }
                    _ => self.wrong_type(value, "`required`", "`true` or `false`"),
                },
                "default" => default_node = Some(value),
                "type" => type_node = Some(value),
                "options" => options_node = Some((key, value)),
                _ => {
                    self.string(value, "`deprecationMessage`");
                }
            }
        }

        // The type.
        let types: &[&str] = if call {
            &["string", "boolean", "number"]
        } else {
            &["string", "boolean", "number", "choice", "environment"]
        };
        match type_node {
            Some(node) => match node.as_str() {
                Some(ty) if types.contains(&ty) => {
                    def.kind = match ty {
                        "boolean" => InputType::Boolean,
                        "number" => InputType::Number,
                        "choice" => InputType::Choice,
                        "environment" => InputType::Environment,
                        _ => InputType::String,
                    };
                }
                Some(ty) if call && (ty == "choice" || ty == "environment") => self.error_hint(
                    node.span,
                    format!("`{ty}` inputs are not supported by `workflow_call`"),
                    format!(
                        "use {}; `{ty}` is only for `workflow_dispatch`",
                        suggest::list(types)
                    ),
                ),
                Some(ty) => {
                    let hint = match suggest::closest(ty, types.iter().copied()) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("use {}", suggest::list(types)),
                    };
                    if call {
                        self.error_hint(node.span, format!("unknown input type `{ty}`"), hint);
                    } else {
                        // GitHub accepts any type here and treats it as a string.
                        self.diags.push(
                            crate::diagnostic::Diagnostic::warning(
                                self.file,
                                node.span,
                                format!("unknown input type `{ty}`, treated as `string`"),
                            )
                            .with_hint(hint),
                        );
                    }
                }
                None => self.wrong_type(node, "`type`", &suggest::list(types)),
            },
            None if call => self.error_hint(
                key.span,
                format!("input `{name}` of `workflow_call` has no `type`"),
                "add `type: string`, `boolean` or `number`",
            ),
            None => {}
        }

        // The options of a choice.
        if let Some((key, value)) = options_node {
            if def.kind == InputType::Choice {
                def.options = self
                    .string_list(value, "`options`", "a list of strings")
                    .unwrap_or_default();
                if def.options.is_empty() && value.as_seq().is_some() {
                    self.error(value.span, format!("choice input `{name}` has no options"));
                }
            } else {
                self.warning(
                    key.span,
                    format!(
                        "`options` is only used by `choice` inputs; input `{name}` is not a choice"
                    ),
                );
            }
        } else if def.kind == InputType::Choice {
            let at = type_node.map_or(key.span, |t| t.span);
            self.error_hint(
                at,
                format!("choice input `{name}` has no `options`"),
                "add `options:` with the list of choices",
            );
        }

        // The default must fit the type.
        if let Some(value) = default_node {
            def.default = self.input_default(name, &def, value);
        }
        Some(def)
    }

    fn input_default(
        &mut self,
        name: &str,
        def: &InputDef,
        value: &Node,
    ) -> Option<crate::ast::SValue> {
        if value.is_null() {
            return None;
        }
        if value.as_str().is_some_and(is_expression) {
            return Some(svalue(value));
        }
        let ok = match def.kind {
            InputType::Boolean => value.as_bool().is_some(),
            InputType::Number => matches!(value.value, Yaml::Int(_) | Yaml::Float(_)),
            InputType::String | InputType::Environment | InputType::Choice => {
                value.scalar_text().is_some()
            }
        };
        if !ok {
            let expected = match def.kind {
                InputType::Boolean => "`true` or `false`",
                InputType::Number => "a number",
                _ => "a string",
            };
            self.error(
                value.span,
                format!(
                    "the default of input `{name}` must be {expected}, found {}",
                    value.kind()
                ),
            );
            return None;
        }
        if def.kind == InputType::Choice && !def.options.is_empty() {
            let text = value.scalar_text().unwrap_or_default();
            if !def.options.iter().any(|o| o.value == text) {
                let names: Vec<&str> = def.options.iter().map(|o| o.value.as_str()).collect();
                let hint = match suggest::closest(&text, names.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None => format!("the options are {}", suggest::list(&names)),
                };
                self.error_hint(
                    value.span,
                    format!("the default `{text}` of input `{name}` is not one of its options"),
                    hint,
                );
                return None;
            }
        }
        Some(svalue(value))
    }

    /// `outputs:` of `workflow_call`: `{name: {description, value}}`.
    fn call_outputs(&mut self, node: &Node) -> SMap<CallOutput> {
        let mut out = SMap::new();
        let Some(entries) = self.map(node, "`on.workflow_call.outputs`") else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if !is_identifier(&name) {
                self.error_hint(
                    key.span,
                    format!("invalid output id `{name}`"),
                    IDENTIFIER_HINT,
                );
            }
            let Some(fields) = self.map(value, &format!("output `{name}`")) else {
                continue;
            };
            let mut output = CallOutput::default();
            let mut has_value = false;
            for (field, field_value) in fields {
                let Some(field_name) = self.key(field) else {
                    continue;
                };
                match field_name.as_str() {
                    "description" => {
                        output.description =
                            self.string(field_value, "`description`").map(|s| s.value);
                    }
                    "value" => {
                        has_value = true;
                        if let Some(v) = self.string_value(field_value, "`value`") {
                            output.value = v;
                        }
                    }
                    _ => self.unknown_key(
                        field,
                        &field_name,
                        &["description", "value"],
                        &format!("in output `{name}` of `workflow_call`"),
                    ),
                }
            }
            if !has_value {
                self.error_hint(
                    key.span,
                    format!("output `{name}` of `workflow_call` has no `value`"),
                    "add `value: ${{ jobs.<job>.outputs.<name> }}`",
                );
            }
            out.insert(name, (key.span, output));
        }
        out
    }

    /// `secrets:` of `workflow_call`: `{name: null | {description, required}}`.
    fn call_secrets_def(&mut self, node: &Node) -> SMap<CallSecret> {
        let mut out = SMap::new();
        let Some(entries) = self.map(node, "`on.workflow_call.secrets`") else {
            return out;
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            let mut secret = CallSecret::default();
            match &value.value {
                Yaml::Null => {}
                Yaml::Map(fields) => {
                    for (field, field_value) in fields {
                        let Some(field_name) = self.key(field) else {
                            continue;
                        };
                        match field_name.as_str() {
                            "description" => {
                                secret.description =
                                    self.string(field_value, "`description`").map(|s| s.value);
                            }
                            "required" => match field_value.as_bool() {
                                Some(b) => secret.required = b,
                                None => {
                                    self.wrong_type(field_value, "`required`", "`true` or `false`")
                                }
                            },
                            _ => self.unknown_key(
                                field,
                                &field_name,
                                &["description", "required"],
                                &format!("in secret `{name}` of `workflow_call`"),
                            ),
                        }
                    }
                }
                _ => {
                    self.wrong_type(value, &format!("secret `{name}`"), "a mapping or empty");
                    continue;
                }
            }
            out.insert(name, (key.span, secret));
        }
        out
    }
}
