//! `docker/metadata-action` (v5) as a pure function: from the action's
//! inputs (`images`, `tags`, `flavor`, `labels`, `annotations`, the
//! separators) and the event (ref, sha, event name, repository, clock)
//! compute the image tags, the OCI labels and annotations, and the step
//! outputs (`version`, `tags`, `tag-names`, `labels`, `annotations`, `json`).
//! No I/O: the caller passes the clock and resolves time zone names.
//!
//! The API: [`MetaInputs`] (built from `with:` and the step environment by
//! [`MetaInputs::from_step`]) and [`MetaContext`] go into [`compute`], which
//! returns a [`Meta`] or a message that names the bad input line and says
//! what to write instead; [`outputs`] turns a `Meta` into step outputs and
//! [`output_env`] into the `DOCKER_METADATA_OUTPUT_*` variables the action
//! also exports.
//!
//! Semantics follow the action: rules sorted by `priority` (stable), the
//! first value produced is the `version` and decides `latest` (for
//! `latest=auto`: on a non-pre-release `type=semver`/`type=pep440`, on
//! `type=match` and on `type=ref,event=tag`), each value goes through
//! `prefix`/`suffix` (a rule's own, else the flavor's) and tag sanitizing,
//! and each tag is paired with every enabled image. `type=ref,event=pr` and
//! `type=sha` carry their default prefixes (`pr-`, `sha-`) as attributes, so
//! the flavor prefix does not apply to them, as in the action. Where Gantry
//! differs on purpose:
//!
//! - Unknown attributes, unknown `{{expressions}}`, an image line mixing
//!   several names with attributes and `onlatest=` without a `prefix=` or
//!   `suffix=` before it are errors (the action ignores or renders them empty).
//! - An attribute value is everything after the first `=` (the action drops
//!   text after a second `=`); `#` starts a comment only at a line's start.
//! - Tag sanitizing replaces each run of characters outside `[A-Za-z0-9_.-]`
//!   with one `-` (as the action), and also drops leading `.`/`-` and cuts at
//!   128 characters (docker's tag rules, which the action leaves to the
//!   registry). Duplicate tags are removed.
//! - Labels and annotations are sorted by key in ASCII case-insensitive
//!   order (the action uses `localeCompare`).
//! - `type=pep440` uses a PEP 440 parser of its own: epoch, release, pre
//!   (`a`/`b`/`rc` and the `alpha`/`beta`/`c`/`pre`/`preview` spellings),
//!   post (also `-N`, `rev`, `r`), dev and local segments, normalized like
//!   `pep440.clean`; `{{major}}`/`{{minor}}`/`{{patch}}` are the first three
//!   release numbers (0 when missing).
//! - `{{date}}`/`{{commit_date}}` take moment.js formats in the English
//!   locale; locale weeks (`w`, `gg`), eras (`N`, `y`) and zone names (`z`)
//!   are errors. `tz=` names other than UTC are resolved by
//!   [`MetaContext::time_zone`].
//! - `type=match` and `match=` use Rust `regex` syntax (no look-around or
//!   back-references); `/…/flags` accepts the flags `i`, `m`, `s` and `u`.
//! - The schedule pattern may use every global expression (the action offers
//!   only `date` and `commit_date` there), and the `latest` tag's flavor
//!   prefix/suffix are expanded like any other.
//! - No bake files (`bake-file*` outputs); the inputs `context`,
//!   `bake-target` and `github-token` are accepted and ignored. For
//!   `DOCKER_METADATA_PR_HEAD_SHA`, pass the head sha as [`MetaContext::sha`].

use std::fmt::Write as _;

use indexmap::IndexMap;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use regex::{Regex, RegexBuilder};

use super::inputs;

/// The inputs `docker/metadata-action@v5` declares.
pub(crate) const INPUTS: &[&str] = &[
    "context",
    "images",
    "tags",
    "flavor",
    "labels",
    "annotations",
    "sep-tags",
    "sep-labels",
    "sep-annotations",
    "bake-target",
    "github-token",
];

/// The event and repository the metadata is computed for.
pub(crate) struct MetaContext<'a> {
    /// `github.event_name` (`push`, `pull_request`, `schedule`, …).
    pub event_name: &'a str,
    /// `github.ref` (`refs/heads/main`, `refs/tags/v1.2.3`, `refs/pull/42/merge`).
    pub git_ref: &'a str,
    /// The full commit sha; empty when unknown (no `type=sha` tag then).
    pub sha: &'a str,
    /// The repository's default branch (for `type=edge` and
    /// `{{is_default_branch}}`); empty when unknown.
    pub default_branch: &'a str,
    /// The pull request number. For `pull_request*` events it makes the ref
    /// `refs/pull/<number>/merge`, as the action does for `pull_request_target`.
    pub pr_number: Option<u64>,
    /// `github.base_ref`, for `{{base_ref}}` on pull request and tag refs.
    pub base_ref: &'a str,
    /// `owner/name`; the title label is the name.
    pub repository: &'a str,
    /// The repository's web address (`https://github.com/owner/name`): the
    /// `url` and `source` labels.
    pub repository_url: &'a str,
    /// The repository description and SPDX licence; empty when unknown.
    pub description: &'a str,
    pub licenses: &'a str,
    /// The current time: `{{date}}`, schedule patterns and the `created` label.
    pub now: Timestamp,
    /// The commit's date for `{{commit_date}}`; `now` when unknown.
    pub commit_date: Option<Timestamp>,
    /// Resolves a `tz='…'` name other than UTC (e.g. with
    /// `|name| TimeZone::get(name).ok()`); `None` makes it an error.
    pub time_zone: fn(&str) -> Option<TimeZone>,
}

/// The action's inputs as written (before any parsing).
#[derive(Debug, Clone, Default)]
pub(crate) struct MetaInputs {
    pub images: String,
    pub tags: String,
    pub flavor: String,
    pub labels: String,
    pub annotations: String,
    /// Output separators; `None` or empty means a newline.
    pub sep_tags: Option<String>,
    pub sep_labels: Option<String>,
    pub sep_annotations: Option<String>,
    /// `DOCKER_METADATA_ANNOTATIONS_LEVELS`: comma-separated levels the
    /// annotations output is prefixed with (default `manifest`).
    pub annotation_levels: Option<String>,
    /// `DOCKER_METADATA_SHORT_SHA_LENGTH` (default 7).
    pub short_sha_length: Option<String>,
}

impl MetaInputs {
    /// Reads the inputs from a step's `with:` and environment.
    pub(crate) fn from_step(
        with: &IndexMap<String, String>,
        env: &IndexMap<String, String>,
    ) -> MetaInputs {
        let text = |name: &str| inputs::input(with, name).unwrap_or("").to_string();
        // Separators keep their whitespace, as in the action.
        let untrimmed = |name: &str| {
            with.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone())
                .filter(|value| !value.is_empty())
        };
        let env_var = |name: &str| env.get(name).filter(|v| !v.trim().is_empty()).cloned();
        MetaInputs {
            images: text("images"),
            tags: text("tags"),
            flavor: text("flavor"),
            labels: text("labels"),
            annotations: text("annotations"),
            sep_tags: untrimmed("sep-tags"),
            sep_labels: untrimmed("sep-labels"),
            sep_annotations: untrimmed("sep-annotations"),
            annotation_levels: env_var("DOCKER_METADATA_ANNOTATIONS_LEVELS"),
            short_sha_length: env_var("DOCKER_METADATA_SHORT_SHA_LENGTH"),
        }
    }
}

/// What the action computes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    /// The first (highest-priority) tag without image; empty when none.
    pub version: String,
    /// `image:tag` for every enabled image (bare tags when there is none).
    pub tags: Vec<String>,
    /// The tags without image.
    pub tag_names: Vec<String>,
    /// OCI labels (defaults overridden by the `labels` input), sorted by key.
    pub labels: Vec<(String, String)>,
    /// The same for annotations, without level prefix ([`outputs`] adds it).
    pub annotations: Vec<(String, String)>,
    /// What the action would log as warnings (a tag that is not semver, a
    /// pattern that does not match, no tag at all).
    pub warnings: Vec<String>,
}

/// Computes tags, labels and annotations. `Err` names the input and line at
/// fault and says what to write instead.
pub(crate) fn compute(inputs: &MetaInputs, ctx: &MetaContext<'_>) -> Result<Meta, String> {
    let images = parse_images(&inputs.images)?;
    let rules = parse_rules(&inputs.tags)?;
    let flavor = parse_flavor(&inputs.flavor)?;
    let label_lines = parse_kv_lines(&inputs.labels, "labels")?;
    let annotation_lines = parse_kv_lines(&inputs.annotations, "annotations")?;
    let env = Env::new(ctx, short_sha_length(inputs.short_sha_length.as_deref())?);
    let mut warnings = Vec::new();

    let version = collect_version(&rules, &flavor, &env, &mut warnings)?;
    let mut tag_names = Vec::new();
    if let Some(main) = &version.main {
        tag_names.push(main.clone());
        tag_names.extend(version.partial.iter().cloned());
        if version.latest {
            let prefix = match &flavor.prefix {
                Some(prefix) if flavor.prefix_latest => prefix.render(&env, None)?,
                _ => String::new(),
            };
            let suffix = match &flavor.suffix {
                Some(suffix) if flavor.suffix_latest => suffix.render(&env, None)?,
                _ => String::new(),
            };
            let latest = sanitize_tag(&format!("{prefix}latest{suffix}"));
            if !latest.is_empty() {
                tag_names.push(latest);
            }
        }
    } else {
        warnings.push(
            "no Docker image version was generated for this event: check the `tags` input"
                .to_string(),
        );
    }
    dedup(&mut tag_names);
    let mut tags = Vec::new();
    if images.is_empty() {
        tags.clone_from(&tag_names);
    } else {
        for image in &images {
            tags.extend(tag_names.iter().map(|tag| format!("{image}:{tag}")));
        }
    }
    dedup(&mut tags);

    let version = version.main.unwrap_or_default();
    let defaults = default_labels(ctx, &version);
    let labels = with_customs(&defaults, &label_lines, "labels", &env, &mut warnings)?;
    let annotations = with_customs(
        &defaults,
        &annotation_lines,
        "annotations",
        &env,
        &mut warnings,
    )?;
    Ok(Meta {
        version,
        tags,
        tag_names,
        labels,
        annotations,
        warnings,
    })
}

/// The step outputs, in the action's order: `version`, `tags`, `tag-names`,
/// `labels`, `annotations` (each prefixed with its level, e.g.
/// `manifest:org.opencontainers.image.title=app`) and `json`
/// (`{"tags":[…],"labels":{…},"annotations":[…]}`).
pub(crate) fn outputs(meta: &Meta, inputs: &MetaInputs) -> Vec<(String, String)> {
    fn separator(sep: &Option<String>) -> &str {
        sep.as_deref().filter(|sep| !sep.is_empty()).unwrap_or("\n")
    }
    let levels: Vec<&str> = inputs
        .annotation_levels
        .as_deref()
        .unwrap_or("manifest")
        .split(',')
        .map(str::trim)
        .filter(|level| !level.is_empty())
        .collect();
    let labels: Vec<String> = meta
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    let annotations: Vec<String> = levels
        .iter()
        .flat_map(|level| {
            meta.annotations
                .iter()
                .map(move |(key, value)| format!("{level}:{key}={value}"))
        })
        .collect();
    let label_map: serde_json::Map<String, serde_json::Value> = meta
        .labels
        .iter()
        .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
        .collect();
    let json = serde_json::json!({
        "tags": meta.tags,
        "labels": label_map,
        "annotations": annotations,
    });
    vec![
        ("version".to_string(), meta.version.clone()),
        (
            "tags".to_string(),
            meta.tags.join(separator(&inputs.sep_tags)),
        ),
        (
            "tag-names".to_string(),
            meta.tag_names.join(separator(&inputs.sep_tags)),
        ),
        (
            "labels".to_string(),
            labels.join(separator(&inputs.sep_labels)),
        ),
        (
            "annotations".to_string(),
            annotations.join(separator(&inputs.sep_annotations)),
        ),
        ("json".to_string(), json.to_string()),
    ]
}

/// The environment variables the action exports for its outputs
/// (`DOCKER_METADATA_OUTPUT_TAGS`, …) unless `DOCKER_METADATA_SET_OUTPUT_ENV`
/// is `false`.
pub(crate) fn output_env(outputs: &[(String, String)]) -> Vec<(String, String)> {
    outputs
        .iter()
        .map(|(name, value)| {
            let name: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            (format!("DOCKER_METADATA_OUTPUT_{name}"), value.clone())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Input lines and fields
// ---------------------------------------------------------------------------

/// The non-empty, non-comment lines of a list input, trimmed.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// Splits one line into comma-separated fields, CSV style: a field that
/// starts with `"` runs to the closing `"` (`""` is a quote inside it).
/// Fields are trimmed; empty ones are dropped.
fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
        let mut field = String::new();
        let last = if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next() {
                    None => {
                        return Err(
                            "a quoted field has no closing `\"`: close it, or write `\"\"` for a quote inside it"
                                .to_string(),
                        );
                    }
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
            match chars.next() {
                None => true,
                Some(',') => false,
                Some(c) => {
                    return Err(format!(
                        "unexpected `{c}` after a closing quote: put the whole field inside the quotes"
                    ));
                }
            }
        } else {
            let mut last = true;
            for c in chars.by_ref() {
                if c == ',' {
                    last = false;
                    break;
                }
                field.push(c);
            }
            last
        };
        let field = field.trim();
        if !field.is_empty() {
            fields.push(field.to_string());
        }
        if last {
            return Ok(fields);
        }
    }
}

/// `key=value` → (lower-case key, value), both trimmed; `None` without `=`.
fn key_value(field: &str) -> Option<(String, &str)> {
    field
        .split_once('=')
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim()))
}

fn parse_bool(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn dedup(items: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    items.retain(|item| seen.insert(item.clone()));
}

// ---------------------------------------------------------------------------
// images and flavor
// ---------------------------------------------------------------------------

/// The enabled image names, lower-cased. A line of plain names is a
/// comma-separated list; a line with attributes is one image.
fn parse_images(text: &str) -> Result<Vec<String>, String> {
    let mut images = Vec::new();
    for line in lines(text) {
        let bad = |problem: String| format!("input `images`, line `{line}`: {problem}");
        let fields = split_fields(line).map_err(bad)?;
        if fields.iter().all(|field| !field.contains('=')) {
            images.extend(fields.iter().map(|name| name.to_lowercase()));
            continue;
        }
        let mut name: Option<String> = None;
        let mut enable = true;
        for field in &fields {
            match key_value(field) {
                None if name.is_some() => {
                    return Err(bad(
                        "more than one image name: put each image on its own line".to_string(),
                    ));
                }
                None => name = Some(field.clone()),
                Some((key, value)) => match key.as_str() {
                    "name" => name = Some(value.to_string()),
                    "enable" => {
                        enable = parse_bool(value).ok_or_else(|| {
                            bad(format!("`enable` must be `true` or `false`, not `{value}`"))
                        })?;
                    }
                    _ => {
                        return Err(bad(format!(
                            "unknown attribute `{key}`: an image takes `name=` and `enable=`"
                        )));
                    }
                },
            }
        }
        let name = name.unwrap_or_default();
        if name.is_empty() {
            return Err(bad(
                "the image has no name: write `name=ghcr.io/owner/app` or just the name"
                    .to_string(),
            ));
        }
        if enable {
            images.push(name.to_lowercase());
        }
    }
    Ok(images)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Latest {
    Auto,
    Always,
    Never,
}

struct Flavor {
    latest: Latest,
    /// `None` when empty (an empty flavor prefix is no prefix).
    prefix: Option<Template>,
    prefix_latest: bool,
    suffix: Option<Template>,
    suffix_latest: bool,
}

fn parse_flavor(text: &str) -> Result<Flavor, String> {
    let mut flavor = Flavor {
        latest: Latest::Auto,
        prefix: None,
        prefix_latest: false,
        suffix: None,
        suffix_latest: false,
    };
    for line in lines(text) {
        let bad = |problem: String| format!("input `flavor`, line `{line}`: {problem}");
        let mut onlatest_for: Option<&str> = None;
        for field in split_fields(line).map_err(bad)? {
            let Some((key, value)) = key_value(&field) else {
                return Err(bad(format!(
                    "`{field}` is not `key=value`: use `latest=`, `prefix=`, `suffix=` or `onlatest=`"
                )));
            };
            match key.as_str() {
                "latest" => {
                    flavor.latest = match value {
                        "auto" => Latest::Auto,
                        "true" => Latest::Always,
                        "false" => Latest::Never,
                        _ => {
                            return Err(bad(format!(
                                "`latest` must be `auto`, `true` or `false`, not `{value}`"
                            )));
                        }
                    };
                }
                "prefix" | "suffix" => {
                    let template = Template::parse(value, Scope::Global)
                        .map_err(|e| bad(format!("`{key}`: {e}")))?;
                    let template = (!value.is_empty()).then_some(template);
                    if key == "prefix" {
                        flavor.prefix = template;
                        onlatest_for = Some("prefix");
                    } else {
                        flavor.suffix = template;
                        onlatest_for = Some("suffix");
                    }
                }
                "onlatest" => {
                    let on = parse_bool(value).ok_or_else(|| {
                        bad(format!(
                            "`onlatest` must be `true` or `false`, not `{value}`"
                        ))
                    })?;
                    match onlatest_for {
                        Some("prefix") => flavor.prefix_latest = on,
                        Some(_) => flavor.suffix_latest = on,
                        None => {
                            return Err(bad(
                                "`onlatest` applies to the `prefix=` or `suffix=` before it on the same line: write e.g. `prefix=app-,onlatest=true`"
                                    .to_string(),
                            ));
                        }
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "unknown flavor `{key}`: use `latest=`, `prefix=`, `suffix=` or `onlatest=`"
                    )));
                }
            }
        }
    }
    Ok(flavor)
}

fn short_sha_length(value: Option<&str>) -> Result<usize, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(7),
        Some(text) => text.parse::<usize>().map_err(|_| {
            format!(
                "DOCKER_METADATA_SHORT_SHA_LENGTH must be a number of characters such as `12`, not `{text}`"
            )
        }),
    }
}

// ---------------------------------------------------------------------------
// tag rules
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Schedule,
    Semver,
    Pep440,
    Match,
    Edge,
    RefBranch,
    RefTag,
    RefPr,
    Raw,
    Sha,
}

struct Rule {
    /// The rule as written, for messages.
    line: String,
    kind: Kind,
    priority: i64,
    enable: Template,
    prefix: Option<Template>,
    suffix: Option<Template>,
    /// schedule, semver, pep440.
    pattern: Option<Template>,
    /// semver, pep440, match, raw; `None` when absent or empty.
    value: Option<Template>,
    /// `type=match`'s pattern, or the `match=` of semver/pep440.
    regex: Option<Regex>,
    /// The shown form of `pattern` for messages (match rules).
    pattern_text: String,
    group: usize,
    /// edge; empty means the default branch.
    branch: String,
    long_sha: bool,
}

const TYPES: &str = "`schedule`, `semver`, `pep440`, `match`, `edge`, `ref`, `raw` or `sha`";
const COMMON_ATTRS: &[&str] = &["enable", "priority", "prefix", "suffix"];

/// The rules of the `tags` input (the action's defaults when empty),
/// sorted by priority, highest first, keeping the written order on ties.
fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    let written: Vec<&str> = lines(text).collect();
    let defaults = [
        "type=schedule",
        "type=ref,event=branch",
        "type=ref,event=tag",
        "type=ref,event=pr",
    ];
    let lines: &[&str] = if written.is_empty() {
        &defaults
    } else {
        &written
    };
    let mut rules = lines
        .iter()
        .map(|line| parse_rule(line))
        .collect::<Result<Vec<_>, _>>()?;
    rules.sort_by_key(|rule| std::cmp::Reverse(rule.priority));
    Ok(rules)
}

fn parse_rule(line: &str) -> Result<Rule, String> {
    let bad = |problem: String| format!("input `tags`, rule `{line}`: {problem}");
    let mut type_name = String::from("raw");
    let mut attrs: IndexMap<String, String> = IndexMap::new();
    for field in split_fields(line).map_err(bad)? {
        match key_value(&field) {
            None => {
                attrs.insert("value".to_string(), field);
            }
            Some((key, value)) if key == "type" => type_name = value.to_ascii_lowercase(),
            Some((key, value)) => {
                attrs.insert(key, value.to_string());
            }
        }
    }
    let (kind, specific, default_priority): (Option<Kind>, &[&str], i64) = match type_name.as_str()
    {
        "schedule" => (Some(Kind::Schedule), &["pattern"], 1000),
        "semver" => (Some(Kind::Semver), &["pattern", "value", "match"], 900),
        "pep440" => (Some(Kind::Pep440), &["pattern", "value", "match"], 900),
        "match" => (Some(Kind::Match), &["pattern", "group", "value"], 800),
        "edge" => (Some(Kind::Edge), &["branch"], 700),
        "ref" => (None, &["event"], 600),
        "raw" => (Some(Kind::Raw), &["value"], 200),
        "sha" => (Some(Kind::Sha), &["format"], 100),
        other => {
            return Err(bad(format!("unknown type `{other}`: use {TYPES}")));
        }
    };
    for key in attrs.keys() {
        if !COMMON_ATTRS.contains(&key.as_str()) && !specific.contains(&key.as_str()) {
            let allowed: Vec<String> = COMMON_ATTRS
                .iter()
                .chain(specific)
                .map(|attr| format!("`{attr}`"))
                .collect();
            return Err(bad(format!(
                "unknown attribute `{key}` for `type={type_name}`: use {}",
                allowed.join(", ")
            )));
        }
    }
    let attr = |name: &str| attrs.get(name).map(String::as_str);
    let template = |name: &str, scope: Scope| -> Result<Option<Template>, String> {
        attr(name)
            .map(|text| Template::parse(text, scope).map_err(|e| bad(format!("`{name}`: {e}"))))
            .transpose()
    };

    let kind = match kind {
        Some(kind) => kind,
        None => match attr("event") {
            Some("branch") => Kind::RefBranch,
            Some("tag") => Kind::RefTag,
            Some("pr") => Kind::RefPr,
            Some(other) => {
                return Err(bad(format!(
                    "unknown event `{other}`: use `event=branch`, `event=tag` or `event=pr`"
                )));
            }
            None => {
                return Err(bad(
                    "`type=ref` needs an event: add `event=branch`, `event=tag` or `event=pr`"
                        .to_string(),
                ));
            }
        },
    };
    let priority = match attr("priority") {
        None => default_priority,
        Some(text) => text.parse::<i64>().map_err(|_| {
            bad(format!(
                "`priority` must be a whole number such as `{default_priority}`, not `{text}`"
            ))
        })?,
    };
    let enable =
        template("enable", Scope::Global)?.unwrap_or_else(|| Template::text("true".to_string()));
    let mut prefix = template("prefix", Scope::Global)?;
    let suffix = template("suffix", Scope::Global)?;
    let value = if attr("value").is_some_and(|v| !v.is_empty()) {
        template("value", Scope::Global)?
    } else {
        None
    };
    let pattern_scope = match kind {
        Kind::Semver => Scope::Semver,
        Kind::Pep440 => Scope::Pep440,
        _ => Scope::Global,
    };
    let mut rule = Rule {
        line: line.to_string(),
        kind,
        priority,
        enable,
        prefix: None,
        suffix,
        pattern: None,
        value,
        regex: None,
        pattern_text: String::new(),
        group: 0,
        branch: String::new(),
        long_sha: false,
    };
    match kind {
        Kind::Schedule => {
            rule.pattern = Some(
                template("pattern", pattern_scope)?
                    .unwrap_or_else(|| Template::text("nightly".to_string())),
            );
        }
        Kind::Semver | Kind::Pep440 => {
            let Some(pattern) = template("pattern", pattern_scope)? else {
                return Err(bad(format!(
                    "`type={type_name}` needs a pattern: add e.g. `pattern={{{{version}}}}` or `pattern={{{{major}}}}.{{{{minor}}}}`"
                )));
            };
            rule.pattern = Some(pattern);
            if let Some(text) = attr("match").filter(|text| !text.is_empty()) {
                let regex = Regex::new(text)
                    .map_err(|e| bad(format!("`match` is not a valid regular expression: {e}")))?;
                if regex.captures_len() < 2 {
                    return Err(bad(format!(
                        "`match={text}` has no capture group: put the version part in parentheses, e.g. `match=v(\\d.\\d.\\d)$`"
                    )));
                }
                rule.regex = Some(regex);
            }
        }
        Kind::Match => {
            let Some(text) = attr("pattern") else {
                return Err(bad(
                    "`type=match` needs a pattern: add e.g. `pattern=v(.*),group=1`".to_string(),
                ));
            };
            rule.regex = Some(js_regex(text).map_err(bad)?);
            rule.pattern_text = text.to_string();
            if let Some(group) = attr("group") {
                rule.group = group.parse().map_err(|_| {
                    bad(format!(
                        "`group` must be a capture group number such as `1`, not `{group}`"
                    ))
                })?;
            }
        }
        Kind::Edge => rule.branch = attr("branch").unwrap_or("").to_string(),
        Kind::RefPr => {
            if prefix.is_none() {
                prefix = Some(Template::text("pr-".to_string()));
            }
        }
        Kind::Raw => {
            if attr("value").is_none() {
                return Err(bad(
                    "`type=raw` needs a value: write e.g. `type=raw,value=latest`".to_string(),
                ));
            }
        }
        Kind::Sha => {
            if prefix.is_none() {
                prefix = Some(Template::text("sha-".to_string()));
            }
            rule.long_sha = match attr("format") {
                None | Some("short") => false,
                Some("long") => true,
                Some(other) => {
                    return Err(bad(format!(
                        "unknown format `{other}`: use `format=short` or `format=long`"
                    )));
                }
            };
        }
        Kind::RefBranch | Kind::RefTag => {}
    }
    rule.prefix = prefix;
    Ok(rule)
}

/// A JavaScript-style pattern: `/body/flags` or a bare pattern.
fn js_regex(text: &str) -> Result<Regex, String> {
    let invalid = |e: regex::Error| format!("`pattern` is not a valid regular expression: {e}");
    if let Some(inner) = text.strip_prefix('/')
        && let Some(end) = inner.rfind('/')
        && end > 0
    {
        let (body, flags) = (&inner[..end], &inner[end + 1..]);
        let mut builder = RegexBuilder::new(body);
        for flag in flags.chars() {
            match flag {
                'i' => {
                    builder.case_insensitive(true);
                }
                'm' => {
                    builder.multi_line(true);
                }
                's' => {
                    builder.dot_matches_new_line(true);
                }
                'u' => {}
                other => {
                    return Err(format!(
                        "regular expression flag `{other}` is not supported: use `i`, `m`, `s` or `u`"
                    ));
                }
            }
        }
        return builder.build().map_err(invalid);
    }
    Regex::new(text).map_err(invalid)
}

// ---------------------------------------------------------------------------
// Producing the version
// ---------------------------------------------------------------------------

struct VersionAcc {
    main: Option<String>,
    partial: Vec<String>,
    latest: bool,
}

fn collect_version(
    rules: &[Rule],
    flavor: &Flavor,
    env: &Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<VersionAcc, String> {
    let mut main: Option<String> = None;
    let mut partial: Vec<String> = Vec::new();
    let mut latest: Option<bool> = None;
    for rule in rules {
        let Some(value) = rule_value(rule, flavor, env, warnings)
            .map_err(|e| format!("input `tags`, rule `{}`: {e}", rule.line))?
        else {
            continue;
        };
        let (value, auto_latest) = value;
        if value.is_empty() {
            continue;
        }
        let tag = sanitize_tag(&value);
        if tag.is_empty() {
            warnings.push(format!(
                "`{value}` has no character usable in a Docker tag: skipped"
            ));
            continue;
        }
        match &main {
            None => main = Some(tag),
            Some(main) if *main == tag => {}
            Some(_) => partial.push(tag),
        }
        if latest.is_none() {
            latest = Some(match flavor.latest {
                Latest::Auto => auto_latest,
                Latest::Always => true,
                Latest::Never => false,
            });
        }
    }
    dedup(&mut partial);
    Ok(VersionAcc {
        main,
        partial,
        latest: latest.unwrap_or(false),
    })
}

/// An enabled rule's value with prefix and suffix, and whether it makes
/// `latest` under `latest=auto`.
fn rule_value(
    rule: &Rule,
    flavor: &Flavor,
    env: &Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, bool)>, String> {
    let enabled = rule.enable.render(env, None)?;
    let Some(enabled) = parse_bool(enabled.trim()) else {
        return Err(format!(
            "`enable` must evaluate to `true` or `false`, not `{enabled}`: fix the `enable=` attribute"
        ));
    };
    if !enabled {
        return Ok(None);
    }
    let Some((value, auto_latest)) = produce(rule, env, warnings)? else {
        return Ok(None);
    };
    let prefix = match (&rule.prefix, &flavor.prefix) {
        (Some(own), _) => own.render(env, None)?,
        (None, Some(global)) => global.render(env, None)?,
        (None, None) => String::new(),
    };
    let suffix = match (&rule.suffix, &flavor.suffix) {
        (Some(own), _) => own.render(env, None)?,
        (None, Some(global)) => global.render(env, None)?,
        (None, None) => String::new(),
    };
    Ok(Some((format!("{prefix}{value}{suffix}"), auto_latest)))
}

/// A rule's value before prefix and suffix, and whether it makes `latest`
/// under `latest=auto`; `None` when the rule does not apply to this event.
fn produce(
    rule: &Rule,
    env: &Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<(String, bool)>, String> {
    Ok(match rule.kind {
        Kind::Schedule => {
            if !env.ctx.event_name.contains("schedule") {
                return Ok(None);
            }
            let pattern = rule
                .pattern
                .as_ref()
                .map_or(Ok(String::new()), |p| p.render(env, None))?;
            Some((pattern, false))
        }
        Kind::Semver | Kind::Pep440 => {
            let Some(source) = version_source(rule, env, warnings)? else {
                return Ok(None);
            };
            let pattern = rule.pattern.as_ref();
            let raw_only = pattern.is_some_and(Template::is_raw);
            let render = |vars: &VersionVars| {
                pattern.map_or(Ok(String::new()), |p| p.render(env, Some(vars)))
            };
            if rule.kind == Kind::Semver {
                let Some(semver) = parse_semver(&source) else {
                    warnings.push(format!(
                        "`{source}` is not a valid semver version (see https://semver.org): the `type=semver` rule is skipped"
                    ));
                    return Ok(None);
                };
                let vars = VersionVars {
                    raw: source.clone(),
                    version: semver.version.clone(),
                    major: semver.major.to_string(),
                    minor: semver.minor.to_string(),
                    patch: semver.patch.to_string(),
                };
                if semver.prerelease {
                    let value = if raw_only {
                        render(&vars)?
                    } else {
                        vars.version
                    };
                    Some((value, false))
                } else {
                    Some((render(&vars)?, true))
                }
            } else {
                let Some(pep) = parse_pep440(&source) else {
                    warnings.push(format!(
                        "`{source}` does not conform to PEP 440 (see https://peps.python.org/pep-0440/): the `type=pep440` rule is skipped"
                    ));
                    return Ok(None);
                };
                if pep.pre.is_some() || pep.post.is_some() || pep.dev.is_some() {
                    let value = if raw_only { source } else { pep.clean() };
                    Some((value, false))
                } else {
                    let part = |index: usize| pep.release.get(index).copied().unwrap_or(0);
                    let vars = VersionVars {
                        raw: source.clone(),
                        version: pep.clean(),
                        major: part(0).to_string(),
                        minor: part(1).to_string(),
                        patch: part(2).to_string(),
                    };
                    Some((render(&vars)?, true))
                }
            }
        }
        Kind::Match => {
            let source = match &rule.value {
                Some(value) => value.render(env, None)?,
                None => match env.tag() {
                    Some(tag) => tag.to_string(),
                    None => return Ok(None),
                },
            };
            let Some(regex) = &rule.regex else {
                return Ok(None);
            };
            let Some(captures) = regex.captures(&source) else {
                warnings.push(format!(
                    "`{}` does not match `{source}`: the `type=match` rule is skipped",
                    rule.pattern_text
                ));
                return Ok(None);
            };
            let Some(group) = captures.get(rule.group) else {
                warnings.push(format!(
                    "group {} of `{}` did not match in `{source}`: the `type=match` rule is skipped",
                    rule.group, rule.pattern_text
                ));
                return Ok(None);
            };
            Some((group.as_str().to_string(), true))
        }
        Kind::Edge => {
            let Some(branch) = env.branch() else {
                return Ok(None);
            };
            let edge_branch = if rule.branch.is_empty() {
                env.ctx.default_branch
            } else {
                rule.branch.as_str()
            };
            (branch == edge_branch).then(|| ("edge".to_string(), false))
        }
        Kind::RefBranch => env.branch().map(|branch| (branch.to_string(), false)),
        Kind::RefTag => env.tag().map(|tag| (tag.to_string(), true)),
        Kind::RefPr => env.pull().map(|number| (number.to_string(), false)),
        Kind::Raw => match &rule.value {
            Some(value) => Some((value.render(env, None)?, false)),
            None => None,
        },
        Kind::Sha => {
            if env.ctx.sha.is_empty() {
                return Ok(None);
            }
            let sha = if rule.long_sha {
                env.ctx.sha.to_string()
            } else {
                env.short_sha.clone()
            };
            Some((sha, false))
        }
    })
}

/// The text a semver/pep440 rule reads: `value=` or the pushed tag, cut by
/// `match=`, with `/` made `-`. `None` when there is neither.
fn version_source(
    rule: &Rule,
    env: &Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<String>, String> {
    let mut source = match &rule.value {
        Some(value) => value.render(env, None)?,
        None => match env.tag() {
            Some(tag) => tag.to_string(),
            None => return Ok(None),
        },
    };
    if let Some(regex) = &rule.regex {
        match regex.captures(&source) {
            None => warnings.push(format!(
                "`{}` does not match `{source}`: using `{source}` as it is",
                regex.as_str()
            )),
            Some(captures) => {
                source = captures
                    .get(1)
                    .map(|group| group.as_str().to_string())
                    .unwrap_or_default();
            }
        }
    }
    Ok(Some(source.replace('/', "-")))
}

/// Docker tag rules: each run of characters outside `[A-Za-z0-9_.-]`
/// becomes one `-`; no leading `.` or `-`; at most 128 characters.
fn sanitize_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut in_invalid_run = false;
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            out.push(c);
            in_invalid_run = false;
        } else if !in_invalid_run {
            out.push('-');
            in_invalid_run = true;
        }
    }
    out.trim_start_matches(['.', '-'])
        .chars()
        .take(128)
        .collect()
}

// ---------------------------------------------------------------------------
// Labels and annotations
// ---------------------------------------------------------------------------

fn default_labels(ctx: &MetaContext<'_>, version: &str) -> Vec<(String, String)> {
    let title = ctx.repository.rsplit('/').next().unwrap_or(ctx.repository);
    let created = parse_moment(ISO_MILLIS)
        .map(|tokens| format_moment(&tokens, &ctx.now.to_zoned(TimeZone::UTC)))
        .unwrap_or_default();
    [
        ("title", title),
        ("description", ctx.description),
        ("url", ctx.repository_url),
        ("source", ctx.repository_url),
        ("version", version),
        ("created", created.as_str()),
        ("revision", ctx.sha),
        ("licenses", ctx.licenses),
    ]
    .into_iter()
    .map(|(key, value)| (format!("org.opencontainers.image.{key}"), value.to_string()))
    .collect()
}

/// The lines of `labels`/`annotations`, each with its template.
fn parse_kv_lines(text: &str, input: &str) -> Result<Vec<(String, Template)>, String> {
    lines(text)
        .map(|line| {
            Template::parse(line, Scope::Global)
                .map(|template| (line.to_string(), template))
                .map_err(|e| format!("input `{input}`, line `{line}`: {e}"))
        })
        .collect()
}

/// Defaults, then the user's lines (a later key replaces an earlier one),
/// sorted by key.
fn with_customs(
    defaults: &[(String, String)],
    custom: &[(String, Template)],
    input: &str,
    env: &Env<'_>,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>, String> {
    let mut merged: IndexMap<String, String> = defaults.iter().cloned().collect();
    for (written, template) in custom {
        let line = template
            .render(env, None)
            .map_err(|e| format!("input `{input}`, line `{written}`: {e}"))?;
        match line.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                merged.insert(key.trim().to_string(), value.to_string());
            }
            _ => warnings.push(format!(
                "input `{input}`: `{line}` is not `key=value`: ignored"
            )),
        }
    }
    let mut pairs: Vec<(String, String)> = merged.into_iter().collect();
    pairs.sort_by(|(a, _), (b, _)| {
        a.to_ascii_lowercase()
            .cmp(&b.to_ascii_lowercase())
            .then_with(|| a.cmp(b))
    });
    Ok(pairs)
}

// ---------------------------------------------------------------------------
// Expressions: `{{branch}}`, `{{date 'YYYYMMDD' tz='UTC'}}`, `{{version}}`
// ---------------------------------------------------------------------------

/// Which `{{names}}` a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The action's global expressions.
    Global,
    /// `type=semver` patterns.
    Semver,
    /// `type=pep440` patterns.
    Pep440,
}

const GLOBAL_NAMES: &str = "`{{branch}}`, `{{tag}}`, `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`, `{{is_not_default_branch}}`, `{{date 'YYYYMMDD'}}` or `{{commit_date 'YYYYMMDD'}}`";
const VERSION_NAMES: &str = "`{{raw}}`, `{{version}}`, `{{major}}`, `{{minor}}` or `{{patch}}`";
/// moment's default format.
const DEFAULT_DATE_FORMAT: &str = "YYYY-MM-DDTHH:mm:ssZ";
/// `Date.toISOString()`.
const ISO_MILLIS: &str = "YYYY-MM-DDTHH:mm:ss.SSS[Z]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Branch,
    Tag,
    Sha,
    BaseRef,
    IsDefaultBranch,
    IsNotDefaultBranch,
    Raw,
    Version,
    Major,
    Minor,
    Patch,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Var(Var),
    Date {
        commit: bool,
        format: Vec<DateToken>,
        tz: Option<String>,
    },
}

/// A Handlebars-style template, parsed and checked up front.
#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
}

/// The values of a version pattern.
struct VersionVars {
    raw: String,
    version: String,
    major: String,
    minor: String,
    patch: String,
}

impl Template {
    fn text(text: String) -> Template {
        Template {
            pieces: vec![Piece::Text(text)],
        }
    }

    /// Parses `text`; `\{{` is a literal `{{`, `{{! … }}` a comment.
    fn parse(text: &str, scope: Scope) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let before = &rest[..open];
            if let Some(escaped) = before.strip_suffix('\\') {
                literal.push_str(escaped);
                literal.push_str("{{");
                rest = &rest[open + 2..];
                continue;
            }
            literal.push_str(before);
            let after = &rest[open + 2..];
            let (after, close_token) = match after.strip_prefix('{') {
                Some(after) => (after, "}}}"),
                None => (after, "}}"),
            };
            let Some(close) = after.find(close_token) else {
                return Err(
                    "`{{` is not closed: write `{{name}}`, or `\\{{` for a literal `{{`"
                        .to_string(),
                );
            };
            let inner = &after[..close];
            rest = &after[close + close_token.len()..];
            if let Some(piece) = parse_expression(inner, scope)? {
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(piece);
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether the template is exactly `{{raw}}` (pre-releases keep it).
    fn is_raw(&self) -> bool {
        matches!(self.pieces.as_slice(), [Piece::Var(Var::Raw)])
    }

    fn render(&self, env: &Env<'_>, vars: Option<&VersionVars>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(var) => out.push_str(&env.var(*var, vars)),
                Piece::Date { commit, format, tz } => {
                    out.push_str(&env.date(*commit, format, tz.as_deref())?);
                }
            }
        }
        Ok(out)
    }
}

fn parse_expression(inner: &str, scope: Scope) -> Result<Option<Piece>, String> {
    let inner = inner.trim();
    if inner.starts_with('!') {
        return Ok(None);
    }
    let (name, args_text) = inner.split_once(char::is_whitespace).unwrap_or((inner, ""));
    let (positional, hash) = parse_args(args_text, inner)?;
    let no_args = |var: Var| {
        if positional.is_empty() && hash.is_empty() {
            Ok(Some(Piece::Var(var)))
        } else {
            Err(format!("`{{{{{name}}}}}` takes no arguments"))
        }
    };
    let unknown = || {
        let names = match scope {
            Scope::Global => GLOBAL_NAMES,
            Scope::Semver | Scope::Pep440 => VERSION_NAMES,
        };
        Err(format!("unknown expression `{{{{{inner}}}}}`: use {names}"))
    };
    match scope {
        Scope::Global => match name {
            "branch" => no_args(Var::Branch),
            "tag" => no_args(Var::Tag),
            "sha" => no_args(Var::Sha),
            "base_ref" => no_args(Var::BaseRef),
            "is_default_branch" => no_args(Var::IsDefaultBranch),
            "is_not_default_branch" => no_args(Var::IsNotDefaultBranch),
            "date" | "commit_date" => {
                if positional.len() > 1 {
                    return Err(format!(
                        "`{{{{{inner}}}}}` takes one format: write e.g. `{{{{{name} 'YYYYMMDD'}}}}`"
                    ));
                }
                let mut tz = None;
                for (key, value) in &hash {
                    if key != "tz" {
                        return Err(format!(
                            "unknown attribute `{key}` in `{{{{{inner}}}}}`: only `tz='…'` is allowed"
                        ));
                    }
                    tz = Some(value.clone());
                }
                let format = positional
                    .first()
                    .map_or(DEFAULT_DATE_FORMAT, String::as_str);
                Ok(Some(Piece::Date {
                    commit: name == "commit_date",
                    format: parse_moment(format)?,
                    tz,
                }))
            }
            _ => unknown(),
        },
        Scope::Semver | Scope::Pep440 => match name {
            "raw" => no_args(Var::Raw),
            "version" => no_args(Var::Version),
            "major" => no_args(Var::Major),
            "minor" => no_args(Var::Minor),
            "patch" => no_args(Var::Patch),
            _ => unknown(),
        },
    }
}

type Args = (Vec<String>, Vec<(String, String)>);

/// `'a' "b" key='c'` → positional strings and `key=value` pairs.
fn parse_args(text: &str, expression: &str) -> Result<Args, String> {
    fn quoted<'t>(text: &'t str, expression: &str) -> Result<(String, &'t str), String> {
        let mut chars = text.chars();
        let quote = chars.next().filter(|c| *c == '\'' || *c == '"');
        let Some(quote) = quote else {
            return Err(format!(
                "in `{{{{{expression}}}}}`, `{text}` is not quoted: write `'{text}'`"
            ));
        };
        let body = chars.as_str();
        let Some(end) = body.find(quote) else {
            return Err(format!(
                "in `{{{{{expression}}}}}`, a string has no closing {quote}"
            ));
        };
        Ok((body[..end].to_string(), &body[end + quote.len_utf8()..]))
    }
    let mut positional = Vec::new();
    let mut hash = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        if rest.starts_with(['\'', '"']) {
            let (value, after) = quoted(rest, expression)?;
            positional.push(value);
            rest = after.trim_start();
            continue;
        }
        let key_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (key, after) = rest.split_at(key_end);
        let Some(after) = after.strip_prefix('=').filter(|_| !key.is_empty()) else {
            return Err(format!(
                "in `{{{{{expression}}}}}`, `{rest}` is not a quoted string or `key='value'`"
            ));
        };
        let (value, after) = quoted(after, expression)?;
        hash.push((key.to_string(), value));
        rest = after.trim_start();
    }
    Ok((positional, hash))
}

/// The event facts expressions and rules read.
struct Env<'a> {
    ctx: &'a MetaContext<'a>,
    git_ref: String,
    short_sha: String,
}

impl<'a> Env<'a> {
    fn new(ctx: &'a MetaContext<'a>, short_sha_length: usize) -> Env<'a> {
        let git_ref = match ctx.pr_number {
            Some(number) if ctx.event_name.starts_with("pull_request") => {
                format!("refs/pull/{number}/merge")
            }
            _ => ctx.git_ref.to_string(),
        };
        Env {
            ctx,
            git_ref,
            short_sha: ctx.sha.chars().take(short_sha_length).collect(),
        }
    }

    fn branch(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/heads/")
    }

    fn tag(&self) -> Option<&str> {
        self.git_ref.strip_prefix("refs/tags/")
    }

    fn pull(&self) -> Option<&str> {
        let rest = self.git_ref.strip_prefix("refs/pull/")?;
        Some(rest.strip_suffix("/merge").unwrap_or(rest))
    }

    /// As the action: the ref without `refs/heads/` is the default branch,
    /// or the event always runs on it (`create`, `discussion`, `issues`,
    /// `schedule`).
    fn is_default_branch(&self) -> bool {
        let branch = self.branch().unwrap_or(&self.git_ref);
        if branch.is_empty() {
            return false;
        }
        if !self.ctx.default_branch.is_empty() && branch == self.ctx.default_branch {
            return true;
        }
        ["create", "discussion", "issues", "schedule"]
            .iter()
            .any(|event| self.ctx.event_name.contains(event))
    }

    fn var(&self, var: Var, vars: Option<&VersionVars>) -> String {
        let from_version = |pick: fn(&VersionVars) -> &String| {
            vars.map(|vars| pick(vars).clone()).unwrap_or_default()
        };
        match var {
            Var::Branch => self.branch().unwrap_or("").to_string(),
            Var::Tag => self.tag().unwrap_or("").to_string(),
            Var::Sha => self.short_sha.clone(),
            Var::BaseRef => {
                if self.tag().is_some() || self.pull().is_some() {
                    let base = self.ctx.base_ref;
                    base.strip_prefix("refs/heads/").unwrap_or(base).to_string()
                } else {
                    String::new()
                }
            }
            Var::IsDefaultBranch => self.is_default_branch().to_string(),
            Var::IsNotDefaultBranch => (!self.is_default_branch()).to_string(),
            Var::Raw => from_version(|v| &v.raw),
            Var::Version => from_version(|v| &v.version),
            Var::Major => from_version(|v| &v.major),
            Var::Minor => from_version(|v| &v.minor),
            Var::Patch => from_version(|v| &v.patch),
        }
    }

    fn date(&self, commit: bool, format: &[DateToken], tz: Option<&str>) -> Result<String, String> {
        let when = if commit {
            self.ctx.commit_date.unwrap_or(self.ctx.now)
        } else {
            self.ctx.now
        };
        let zone = match tz {
            None => TimeZone::UTC,
            Some(name)
                if ["UTC", "Etc/UTC", "GMT", "Etc/GMT"]
                    .iter()
                    .any(|utc| name.eq_ignore_ascii_case(utc)) =>
            {
                TimeZone::UTC
            }
            Some(name) => (self.ctx.time_zone)(name).ok_or_else(|| {
                format!(
                    "unknown time zone `{name}`: use an IANA name such as `Europe/Paris` or `UTC`"
                )
            })?,
        };
        Ok(format_moment(format, &when.to_zoned(zone)))
    }
}

// ---------------------------------------------------------------------------
// moment.js date formats
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum DateToken {
    Literal(String),
    Field(&'static str),
}

const MOMENT_FIELDS: &[&str] = &[
    "YYYYYY",
    "YYYYY",
    "YYYY",
    "YY",
    "Y",
    "Qo",
    "Q",
    "MMMM",
    "MMM",
    "MM",
    "Mo",
    "M",
    "DDDD",
    "DDDo",
    "DDD",
    "DD",
    "Do",
    "D",
    "dddd",
    "ddd",
    "dd",
    "do",
    "d",
    "e",
    "E",
    "WW",
    "Wo",
    "W",
    "GGGG",
    "GG",
    "HH",
    "H",
    "hh",
    "h",
    "kk",
    "k",
    "mm",
    "m",
    "ss",
    "s",
    "SSSSSSSSS",
    "SSSSSSSS",
    "SSSSSSS",
    "SSSSSS",
    "SSSSS",
    "SSSS",
    "SSS",
    "SS",
    "S",
    "a",
    "A",
    "ZZ",
    "Z",
    "X",
    "x",
];
const MOMENT_UNSUPPORTED: &[&str] = &[
    "ww", "wo", "w", "ggggg", "gggg", "gg", "GGGGG", "NNNNN", "NNNN", "NNN", "NN", "N", "yyyy",
    "yyy", "yy", "yo", "y", "zz", "z",
];
/// moment's English localized formats.
const MOMENT_LOCALIZED: &[(&str, &str)] = &[
    ("LTS", "h:mm:ss A"),
    ("LT", "h:mm A"),
    ("LLLL", "dddd, MMMM D, YYYY h:mm A"),
    ("LLL", "MMMM D, YYYY h:mm A"),
    ("LL", "MMMM D, YYYY"),
    ("L", "MM/DD/YYYY"),
    ("llll", "ddd, MMM D, YYYY h:mm A"),
    ("lll", "MMM D, YYYY h:mm A"),
    ("ll", "MMM D, YYYY"),
    ("l", "M/D/YYYY"),
];

enum MomentMatch {
    Field(&'static str),
    Unsupported(&'static str),
    Localized(&'static str, &'static str),
}

impl MomentMatch {
    fn token(&self) -> &'static str {
        match self {
            MomentMatch::Field(token)
            | MomentMatch::Unsupported(token)
            | MomentMatch::Localized(token, _) => token,
        }
    }
}

/// The longest token `text` starts with (moment's tokenizer is greedy).
fn longest_moment_token(text: &str) -> Option<MomentMatch> {
    let fields = MOMENT_FIELDS.iter().copied().map(MomentMatch::Field);
    let unsupported = MOMENT_UNSUPPORTED
        .iter()
        .copied()
        .map(MomentMatch::Unsupported);
    let localized = MOMENT_LOCALIZED
        .iter()
        .map(|&(token, expansion)| MomentMatch::Localized(token, expansion));
    fields
        .chain(unsupported)
        .chain(localized)
        .filter(|candidate| text.starts_with(candidate.token()))
        .max_by_key(|candidate| candidate.token().len())
}

fn parse_moment(format: &str) -> Result<Vec<DateToken>, String> {
    fn literal(tokens: &mut Vec<DateToken>, text: &str) {
        if let Some(DateToken::Literal(last)) = tokens.last_mut() {
            last.push_str(text);
        } else if !text.is_empty() {
            tokens.push(DateToken::Literal(text.to_string()));
        }
    }
    let mut tokens = Vec::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c == '['
            && let Some(end) = rest[1..].find(']')
            && !rest[1..=end].contains('[')
        {
            literal(&mut tokens, &rest[1..=end]);
            rest = &rest[end + 2..];
            continue;
        }
        let escaped = c == '\\';
        let body = if escaped { &rest[1..] } else { rest };
        match longest_moment_token(body) {
            Some(found) => {
                let len = found.token().len();
                if escaped {
                    literal(&mut tokens, &body[..len]);
                } else {
                    match found {
                        MomentMatch::Field(field) => tokens.push(DateToken::Field(field)),
                        MomentMatch::Unsupported(token) => {
                            return Err(format!(
                                "date format token `{token}` is not supported: use e.g. `YYYY`, `MM`, `DD`, `HH`, `mm`, `ss`, `W`, or put literal text in `[brackets]`"
                            ));
                        }
                        MomentMatch::Localized(_, expansion) => {
                            tokens.extend(parse_moment(expansion)?);
                        }
                    }
                }
                rest = &body[len..];
            }
            None => {
                let next = body.chars().next().map_or(0, char::len_utf8);
                literal(&mut tokens, &body[..next]);
                rest = &body[next..];
            }
        }
    }
    Ok(tokens)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn ordinal(number: i64) -> String {
    let suffix = match (number % 100, number % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    format!("{number}{suffix}")
}

fn format_moment(tokens: &[DateToken], when: &Zoned) -> String {
    let mut out = String::new();
    for token in tokens {
        match token {
            DateToken::Literal(text) => out.push_str(text),
            DateToken::Field(field) => moment_field(field, when, &mut out),
        }
    }
    out
}

fn moment_field(field: &str, when: &Zoned, out: &mut String) {
    let year = i64::from(when.year());
    let month = i64::from(when.month());
    let day = i64::from(when.day());
    let hour = i64::from(when.hour());
    let weekday = i64::from(when.weekday().to_sunday_zero_offset());
    let month_name = MONTHS[usize::try_from(month - 1).unwrap_or(0).min(11)];
    let weekday_name = WEEKDAYS[usize::try_from(weekday).unwrap_or(0).min(6)];
    let iso_week = when.date().iso_week_date();
    let millis = (i64::from(when.subsec_nanosecond()) / 1_000_000).clamp(0, 999);
    let hour12 = if hour % 12 == 0 { 12 } else { hour % 12 };
    let _ = match field {
        "YYYYYY" => write!(out, "{}{:06}", if year < 0 { '-' } else { '+' }, year.abs()),
        "YYYYY" => write!(out, "{year:05}"),
        "YYYY" if (0..=9999).contains(&year) => write!(out, "{year:04}"),
        "YYYY" | "Y" if year > 9999 => write!(out, "+{year}"),
        "YYYY" | "Y" => write!(out, "{year}"),
        "YY" => write!(out, "{:02}", year.rem_euclid(100)),
        "Q" => write!(out, "{}", (month - 1) / 3 + 1),
        "Qo" => write!(out, "{}", ordinal((month - 1) / 3 + 1)),
        "M" => write!(out, "{month}"),
        "MM" => write!(out, "{month:02}"),
        "Mo" => write!(out, "{}", ordinal(month)),
        "MMM" => write!(out, "{}", &month_name[..3]),
        "MMMM" => write!(out, "{month_name}"),
        "D" => write!(out, "{day}"),
        "DD" => write!(out, "{day:02}"),
        "Do" => write!(out, "{}", ordinal(day)),
        "DDD" => write!(out, "{}", when.day_of_year()),
        "DDDD" => write!(out, "{:03}", when.day_of_year()),
        "DDDo" => write!(out, "{}", ordinal(i64::from(when.day_of_year()))),
        "d" | "e" => write!(out, "{weekday}"),
        "do" => write!(out, "{}", ordinal(weekday)),
        "dd" => write!(out, "{}", &weekday_name[..2]),
        "ddd" => write!(out, "{}", &weekday_name[..3]),
        "dddd" => write!(out, "{weekday_name}"),
        "E" => write!(out, "{}", when.weekday().to_monday_one_offset()),
        "W" => write!(out, "{}", iso_week.week()),
        "WW" => write!(out, "{:02}", iso_week.week()),
        "Wo" => write!(out, "{}", ordinal(i64::from(iso_week.week()))),
        "GGGG" => write!(out, "{:04}", iso_week.year()),
        "GG" => write!(out, "{:02}", i64::from(iso_week.year()).rem_euclid(100)),
        "H" => write!(out, "{hour}"),
        "HH" => write!(out, "{hour:02}"),
        "h" => write!(out, "{hour12}"),
        "hh" => write!(out, "{hour12:02}"),
        "k" => write!(out, "{}", if hour == 0 { 24 } else { hour }),
        "kk" => write!(out, "{:02}", if hour == 0 { 24 } else { hour }),
        "m" => write!(out, "{}", when.minute()),
        "mm" => write!(out, "{:02}", when.minute()),
        "s" => write!(out, "{}", when.second()),
        "ss" => write!(out, "{:02}", when.second()),
        "a" => write!(out, "{}", if hour < 12 { "am" } else { "pm" }),
        "A" => write!(out, "{}", if hour < 12 { "AM" } else { "PM" }),
        "Z" | "ZZ" => {
            let seconds = when.offset().seconds();
            let sign = if seconds < 0 { '-' } else { '+' };
            let minutes = seconds.abs() / 60;
            let colon = if field == "Z" { ":" } else { "" };
            write!(out, "{sign}{:02}{colon}{:02}", minutes / 60, minutes % 60)
        }
        "X" => write!(out, "{}", when.timestamp().as_second()),
        "x" => write!(out, "{}", when.timestamp().as_millisecond()),
        fraction if fraction.starts_with('S') => {
            // moment keeps milliseconds: `S` is tenths, `SSSS…` pads zeros.
            let digits = format!("{millis:03}");
            let width = fraction.len();
            if width <= 3 {
                write!(out, "{}", &digits[..width])
            } else {
                write!(out, "{digits}{}", "0".repeat(width - 3))
            }
        }
        _ => Ok(()),
    };
}

// ---------------------------------------------------------------------------
// Versions: semver (as node-semver's `valid`) and PEP 440
// ---------------------------------------------------------------------------

struct SemVer {
    version: String,
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: bool,
}

/// A strict semver version with an optional leading `v`.
fn parse_semver(text: &str) -> Option<SemVer> {
    const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;
    fn numeric(part: &str) -> Option<u64> {
        if part.is_empty()
            || !part.bytes().all(|b| b.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        part.parse().ok().filter(|n| *n <= MAX_SAFE_INTEGER)
    }
    fn identifier(part: &str) -> bool {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }
    let text = text.trim();
    if text.len() > 256 {
        return None;
    }
    let text = text.strip_prefix('v').unwrap_or(text);
    let (main, build) = match text.split_once('+') {
        Some((main, build)) => (main, Some(build)),
        None => (text, None),
    };
    if let Some(build) = build
        && !build.split('.').all(identifier)
    {
        return None;
    }
    let (core, pre) = match main.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (main, None),
    };
    let mut numbers = core.split('.');
    let major = numeric(numbers.next()?)?;
    let minor = numeric(numbers.next()?)?;
    let patch = numeric(numbers.next()?)?;
    if numbers.next().is_some() {
        return None;
    }
    if let Some(pre) = pre {
        for part in pre.split('.') {
            if !identifier(part) {
                return None;
            }
            if part.bytes().all(|b| b.is_ascii_digit()) && numeric(part).is_none() {
                return None;
            }
        }
    }
    let mut version = format!("{major}.{minor}.{patch}");
    if let Some(pre) = pre {
        version.push('-');
        version.push_str(pre);
    }
    Some(SemVer {
        version,
        major,
        minor,
        patch,
        prerelease: pre.is_some(),
    })
}

struct Pep440 {
    epoch: u64,
    release: Vec<u64>,
    pre: Option<(&'static str, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<String>,
}

impl Pep440 {
    /// The normalized form (`1.0dev4` → `1.0.dev4`, `1.2beta2` → `1.2b2`).
    fn clean(&self) -> String {
        let mut out = String::new();
        if self.epoch != 0 {
            let _ = write!(out, "{}!", self.epoch);
        }
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        out.push_str(&release.join("."));
        if let Some((kind, number)) = self.pre {
            let _ = write!(out, "{kind}{number}");
        }
        if let Some(post) = self.post {
            let _ = write!(out, ".post{post}");
        }
        if let Some(dev) = self.dev {
            let _ = write!(out, ".dev{dev}");
        }
        if let Some(local) = &self.local {
            let _ = write!(out, "+{local}");
        }
        out
    }
}

fn parse_pep440(text: &str) -> Option<Pep440> {
    fn number(text: &str) -> Option<(u64, &str)> {
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        if end == 0 {
            return None;
        }
        Some((text[..end].parse().ok()?, &text[end..]))
    }
    fn separator(text: &str) -> &str {
        text.strip_prefix(['.', '-', '_']).unwrap_or(text)
    }
    /// `[sep]keyword[sep][N]` for the first keyword that fits; N defaults to 0.
    fn segment<'t>(
        text: &'t str,
        keywords: &[(&str, &'static str)],
    ) -> Option<(&'static str, u64, &'t str)> {
        let after_sep = separator(text);
        let &(keyword, normal) = keywords
            .iter()
            .find(|(keyword, _)| after_sep.starts_with(keyword))?;
        let after = &after_sep[keyword.len()..];
        match number(separator(after)) {
            Some((n, rest)) => Some((normal, n, rest)),
            None => Some((normal, 0, after)),
        }
    }
    let lower = text.trim().to_ascii_lowercase();
    let mut rest = lower.strip_prefix('v').unwrap_or(&lower);
    let mut epoch = 0;
    if let Some((n, after)) = number(rest)
        && let Some(after) = after.strip_prefix('!')
    {
        epoch = n;
        rest = after;
    }
    let (first, after) = number(rest)?;
    let mut release = vec![first];
    rest = after;
    while let Some(after_dot) = rest.strip_prefix('.')
        && let Some((n, after)) = number(after_dot)
    {
        release.push(n);
        rest = after;
    }
    let mut pre = None;
    if let Some((kind, n, after)) = segment(
        rest,
        &[
            ("preview", "rc"),
            ("alpha", "a"),
            ("beta", "b"),
            ("pre", "rc"),
            ("rc", "rc"),
            ("a", "a"),
            ("b", "b"),
            ("c", "rc"),
        ],
    ) {
        pre = Some((kind, n));
        rest = after;
    }
    let mut post = None;
    if let Some(after_dash) = rest.strip_prefix('-')
        && let Some((n, after)) = number(after_dash)
    {
        post = Some(n);
        rest = after;
    } else if let Some((_, n, after)) =
        segment(rest, &[("post", "post"), ("rev", "post"), ("r", "post")])
    {
        post = Some(n);
        rest = after;
    }
    let mut dev = None;
    if let Some((_, n, after)) = segment(rest, &[("dev", "dev")]) {
        dev = Some(n);
        rest = after;
    }
    let mut local = None;
    if let Some(label) = rest.strip_prefix('+') {
        let parts: Vec<&str> = label.split(['.', '-', '_']).collect();
        if parts
            .iter()
            .any(|part| part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return None;
        }
        local = Some(parts.join("."));
        rest = "";
    }
    rest.is_empty().then_some(Pep440 {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "860c1904a1ce19322e91ac35af1ab07466440c37";

    fn tokyo(name: &str) -> Option<TimeZone> {
        (name == "Asia/Tokyo").then(|| TimeZone::fixed(jiff::tz::offset(9)))
    }

    fn ctx<'a>(event_name: &'a str, git_ref: &'a str) -> MetaContext<'a> {
        MetaContext {
            event_name,
            git_ref,
            sha: SHA,
            default_branch: "main",
            pr_number: None,
            base_ref: "",
            repository: "octocat/Hello-World",
            repository_url: "https://github.com/octocat/Hello-World",
            description: "",
            licenses: "",
            now: "2020-01-10T00:30:00Z".parse().unwrap(),
            commit_date: Some("2020-01-09T22:15:07Z".parse().unwrap()),
            time_zone: tokyo,
        }
    }

    fn given(images: &str, tags: &str, flavor: &str) -> MetaInputs {
        MetaInputs {
            images: images.to_string(),
            tags: tags.to_string(),
            flavor: flavor.to_string(),
            ..MetaInputs::default()
        }
    }

    /// (what, event, ref, images, tags, flavor, expected tags)
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [&'static str],
    );

    #[test]
    fn tag_table() {
        let semver3 = "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}";
        let cases: &[Case] = &[
            (
                "default rules on main",
                "push",
                "refs/heads/main",
                "name/app",
                "",
                "",
                &["name/app:main"],
            ),
            (
                "branch with slashes",
                "push",
                "refs/heads/feature/new@thing",
                "name/app",
                "",
                "",
                &["name/app:feature-new-thing"],
            ),
            (
                "default rules on a tag",
                "push",
                "refs/tags/v1.2.3",
                "name/app",
                "",
                "",
                &["name/app:v1.2.3", "name/app:latest"],
            ),
            (
                "semver",
                "push",
                "refs/tags/v1.2.3",
                "name/app",
                semver3,
                "",
                &[
                    "name/app:1.2.3",
                    "name/app:1.2",
                    "name/app:1",
                    "name/app:latest",
                ],
            ),
            (
                "semver pre-release",
                "push",
                "refs/tags/v2.0.0-rc.1",
                "name/app",
                semver3,
                "",
                &["name/app:2.0.0-rc.1"],
            ),
            (
                "semver raw keeps the v",
                "push",
                "refs/tags/v2.0.8-beta.67",
                "",
                "type=semver,pattern={{raw}}",
                "",
                &["v2.0.8-beta.67"],
            ),
            (
                "semver prefix in pattern",
                "push",
                "refs/tags/v1.2.3",
                "",
                "type=semver,pattern=v{{major}}",
                "",
                &["v1", "latest"],
            ),
            (
                "semver build metadata dropped",
                "push",
                "refs/tags/v9.5.7-alpha.2+fork.3.1.8",
                "",
                "type=semver,pattern={{version}}",
                "",
                &["9.5.7-alpha.2"],
            ),
            (
                "not a semver tag",
                "push",
                "refs/tags/release1",
                "",
                "type=semver,pattern={{version}}",
                "",
                &[],
            ),
            (
                "semver on a branch",
                "push",
                "refs/heads/main",
                "",
                "type=semver,pattern={{version}}",
                "",
                &[],
            ),
            (
                "semver value",
                "push",
                "refs/heads/main",
                "",
                "type=semver,pattern={{major}}.{{minor}},value=v3.4.5",
                "",
                &["3.4", "latest"],
            ),
            (
                "semver match",
                "push",
                "refs/heads/main",
                "",
                "type=semver,pattern={{version}},value=p1/v1.0.0,match=v(\\d.\\d.\\d)$",
                "",
                &["1.0.0", "latest"],
            ),
            (
                "pull request",
                "pull_request",
                "refs/pull/42/merge",
                "name/app",
                "",
                "",
                &["name/app:pr-42"],
            ),
            (
                "pull request own prefix",
                "pull_request",
                "refs/pull/42/merge",
                "",
                "type=ref,event=pr,prefix=review-",
                "",
                &["review-42"],
            ),
            (
                "sha short",
                "push",
                "refs/heads/main",
                "",
                "type=sha",
                "",
                &["sha-860c190"],
            ),
            (
                "sha long with prefix",
                "push",
                "refs/heads/main",
                "",
                "type=sha,format=long,prefix=commit-",
                "",
                &["commit-860c1904a1ce19322e91ac35af1ab07466440c37"],
            ),
            (
                "raw disabled",
                "push",
                "refs/heads/main",
                "",
                "type=raw,value=foo,enable=false\ntype=raw,value=bar",
                "",
                &["bar"],
            ),
            (
                "raw enabled on default branch",
                "push",
                "refs/heads/main",
                "",
                "type=raw,value=latest,enable={{is_default_branch}}",
                "",
                &["latest"],
            ),
            (
                "raw disabled off default branch",
                "push",
                "refs/heads/dev",
                "",
                "type=raw,value=latest,enable={{is_default_branch}}\ntype=ref,event=branch",
                "",
                &["dev"],
            ),
            (
                "raw shorthand",
                "push",
                "refs/heads/main",
                "",
                "foo\ntype=raw,bar",
                "",
                &["foo", "bar"],
            ),
            (
                "raw with expressions",
                "push",
                "refs/heads/my/branch",
                "",
                "type=raw,value=mytag-{{branch}}-{{sha}}",
                "",
                &["mytag-my-branch-860c190"],
            ),
            (
                "flavor prefix and suffix",
                "push",
                "refs/heads/main",
                "",
                "type=ref,event=branch\ntype=sha",
                "prefix=app-\nsuffix=-alpine",
                &["app-main-alpine", "sha-860c190-alpine"],
            ),
            (
                "flavor on latest",
                "push",
                "refs/tags/v1.2.3",
                "",
                "type=semver,pattern={{version}}",
                "prefix=app-,onlatest=true\nsuffix=-slim",
                &["app-1.2.3-slim", "app-latest"],
            ),
            (
                "rule prefix beats flavor",
                "push",
                "refs/heads/main",
                "",
                "type=ref,event=branch,prefix=",
                "prefix=app-",
                &["main"],
            ),
            (
                "latest=false",
                "push",
                "refs/tags/v1.2.3",
                "",
                "type=semver,pattern={{version}}",
                "latest=false",
                &["1.2.3"],
            ),
            (
                "latest=true on a branch",
                "push",
                "refs/heads/main",
                "",
                "",
                "latest=true",
                &["main", "latest"],
            ),
            (
                "multiple images",
                "push",
                "refs/heads/main",
                "name/app\nghcr.io/Name/App\nname=quay.io/x/y,enable=false",
                "",
                "",
                &["name/app:main", "ghcr.io/name/app:main"],
            ),
            (
                "comma separated images",
                "push",
                "refs/heads/main",
                "a/b, c/d",
                "",
                "",
                &["a/b:main", "c/d:main"],
            ),
            (
                "image attributes",
                "push",
                "refs/heads/main",
                "name=a/b,enable=true",
                "",
                "",
                &["a/b:main"],
            ),
            (
                "priority ordering",
                "push",
                "refs/heads/main",
                "",
                "type=sha\ntype=ref,event=branch\ntype=raw,value=first,priority=2000",
                "",
                &["first", "main", "sha-860c190"],
            ),
            (
                "equal priority keeps order",
                "push",
                "refs/heads/main",
                "",
                "type=raw,value=b\ntype=raw,value=a",
                "",
                &["b", "a"],
            ),
            (
                "duplicates removed",
                "push",
                "refs/heads/main",
                "",
                "type=raw,value=x\ntype=raw,value=x\ntype=ref,event=branch,suffix=\ntype=raw,value=main",
                "",
                &["main", "x"],
            ),
            (
                "schedule default",
                "schedule",
                "refs/heads/main",
                "",
                "",
                "",
                &["nightly", "main"],
            ),
            (
                "schedule date",
                "schedule",
                "refs/heads/main",
                "",
                "type=schedule,pattern={{date 'YYYYMMDD'}}",
                "",
                &["20200110"],
            ),
            (
                "schedule date in Tokyo",
                "schedule",
                "refs/heads/main",
                "",
                "type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}",
                "",
                &["20200110-093000"],
            ),
            (
                "date default format",
                "push",
                "refs/heads/main",
                "",
                "type=raw,value={{date}}",
                "",
                &["2020-01-10T00-30-00-00-00"],
            ),
            (
                "commit date in Tokyo",
                "push",
                "refs/heads/main",
                "",
                "type=raw,value={{commit_date 'YYYYMMDD-HH' tz='Asia/Tokyo'}}",
                "",
                &["20200110-07"],
            ),
            (
                "schedule not on push",
                "push",
                "refs/heads/main",
                "",
                "type=schedule",
                "",
                &[],
            ),
            (
                "match group",
                "push",
                "refs/tags/v2.0.8-beta.67",
                "",
                "type=match,pattern=v(\\d.\\d),group=1",
                "",
                &["2.0", "latest"],
            ),
            (
                "match whole",
                "push",
                "refs/tags/20200110-RC2",
                "",
                "type=match,pattern=\\d+",
                "",
                &["20200110", "latest"],
            ),
            (
                "match with slash",
                "push",
                "refs/tags/p1/v1.2.3",
                "",
                "type=match,pattern=p1/v(\\d.\\d.\\d),group=1",
                "",
                &["1.2.3", "latest"],
            ),
            (
                "match flags",
                "push",
                "refs/tags/V1.2",
                "",
                "type=match,\"pattern=/^v(.*)$/i\",group=1",
                "",
                &["1.2", "latest"],
            ),
            (
                "match misses",
                "push",
                "refs/tags/release",
                "",
                "type=match,pattern=\\d+",
                "",
                &[],
            ),
            (
                "edge on default branch",
                "push",
                "refs/heads/main",
                "",
                "type=edge",
                "",
                &["edge"],
            ),
            (
                "edge elsewhere",
                "push",
                "refs/heads/dev",
                "",
                "type=edge",
                "",
                &[],
            ),
            (
                "edge on given branch",
                "push",
                "refs/heads/dev",
                "",
                "type=edge,branch=dev",
                "",
                &["edge"],
            ),
            (
                "pep440 final",
                "push",
                "refs/tags/v1.2.3",
                "",
                "type=pep440,pattern={{major}}.{{minor}}",
                "",
                &["1.2", "latest"],
            ),
            (
                "pep440 rc",
                "push",
                "refs/tags/1.2.3rc2",
                "",
                "type=pep440,pattern={{major}}.{{minor}}",
                "",
                &["1.2.3rc2"],
            ),
            (
                "pep440 post",
                "push",
                "refs/tags/1.2.3post1",
                "",
                "type=pep440,pattern={{major}}.{{minor}}",
                "",
                &["1.2.3.post1"],
            ),
            (
                "pep440 beta",
                "push",
                "refs/tags/1.2.3beta2",
                "",
                "type=pep440,pattern={{major}}.{{minor}}",
                "",
                &["1.2.3b2"],
            ),
            (
                "pep440 dev",
                "push",
                "refs/tags/1.0dev4",
                "",
                "type=pep440,pattern={{major}}.{{minor}}",
                "",
                &["1.0.dev4"],
            ),
            (
                "pep440 raw",
                "push",
                "refs/tags/v1.2.3rc2",
                "",
                "type=pep440,pattern={{raw}}",
                "",
                &["v1.2.3rc2"],
            ),
            (
                "ref tag with slash",
                "push",
                "refs/tags/p1/v1",
                "",
                "type=ref,event=tag",
                "",
                &["p1-v1", "latest"],
            ),
            (
                "comment lines",
                "push",
                "refs/heads/main",
                "",
                "# a comment\ntype=ref,event=branch",
                "",
                &["main"],
            ),
        ];
        for (what, event, git_ref, images, tags, flavor, expected) in cases {
            let meta = compute(&given(images, tags, flavor), &ctx(event, git_ref))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(meta.tags, *expected, "{what}");
            let first = expected
                .first()
                .map(|tag| tag.rsplit(':').next().unwrap_or(tag))
                .unwrap_or("");
            assert_eq!(meta.version, first, "{what}: version");
        }
    }

    #[test]
    fn pull_request_target_uses_the_pr_number() {
        let mut context = ctx("pull_request_target", "refs/heads/main");
        context.pr_number = Some(7);
        let meta = compute(&given("", "", ""), &context).unwrap();
        assert_eq!(meta.tags, ["pr-7"]);
    }

    #[test]
    fn short_sha_length_comes_from_the_environment() {
        let mut meta_inputs = given("", "type=sha", "");
        meta_inputs.short_sha_length = Some("12".to_string());
        let meta = compute(&meta_inputs, &ctx("push", "refs/heads/main")).unwrap();
        assert_eq!(meta.tags, ["sha-860c1904a1ce"]);
        meta_inputs.short_sha_length = Some("lots".to_string());
        let err = compute(&meta_inputs, &ctx("push", "refs/heads/main")).unwrap_err();
        assert!(err.contains("DOCKER_METADATA_SHORT_SHA_LENGTH"), "{err}");
    }

    #[test]
    fn no_sha_no_sha_tag_and_warnings() {
        let mut context = ctx("push", "refs/heads/main");
        context.sha = "";
        let meta = compute(&given("", "type=sha", ""), &context).unwrap();
        assert!(meta.tags.is_empty());
        assert_eq!(meta.version, "");
        assert!(meta.warnings[0].contains("no Docker image version"));
        let meta = compute(
            &given("", "type=semver,pattern={{version}}", ""),
            &ctx("push", "refs/tags/v1.2"),
        )
        .unwrap();
        assert!(
            meta.warnings[0].contains("`v1.2` is not a valid semver"),
            "{:?}",
            meta.warnings
        );
    }

    #[test]
    fn default_labels_and_user_overrides() {
        let mut meta_inputs = given("name/app", "type=semver,pattern={{version}}", "");
        meta_inputs.labels = "org.opencontainers.image.title=MyTitle\nmaintainer=CrazyMax\nbuild={{commit_date 'YYYY-MM-DD'}}\nnot a label\nurl.with=equals=kept".to_string();
        let meta = compute(&meta_inputs, &ctx("push", "refs/tags/v1.2.3")).unwrap();
        let labels: Vec<String> = meta
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            labels,
            [
                "build=2020-01-09",
                "maintainer=CrazyMax",
                "org.opencontainers.image.created=2020-01-10T00:30:00.000Z",
                "org.opencontainers.image.description=",
                "org.opencontainers.image.licenses=",
                "org.opencontainers.image.revision=860c1904a1ce19322e91ac35af1ab07466440c37",
                "org.opencontainers.image.source=https://github.com/octocat/Hello-World",
                "org.opencontainers.image.title=MyTitle",
                "org.opencontainers.image.url=https://github.com/octocat/Hello-World",
                "org.opencontainers.image.version=1.2.3",
                "url.with=equals=kept",
            ]
        );
        assert!(meta.warnings.iter().any(|w| w.contains("`not a label`")));
        // Annotations get the defaults, not the labels.
        assert!(meta.annotations.contains(&(
            "org.opencontainers.image.title".to_string(),
            "Hello-World".to_string()
        )));
    }

    #[test]
    fn outputs_join_and_json() {
        let mut meta_inputs = given("name/app", "type=ref,event=branch\ntype=sha", "");
        meta_inputs.sep_tags = Some(",".to_string());
        meta_inputs.annotations = "org.opencontainers.image.description=Nice".to_string();
        meta_inputs.annotation_levels = Some("manifest,index".to_string());
        let meta = compute(&meta_inputs, &ctx("push", "refs/heads/main")).unwrap();
        let outputs = outputs(&meta, &meta_inputs);
        let get = |name: &str| {
            outputs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
                .unwrap()
        };
        let names: Vec<&str> = outputs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "version",
                "tags",
                "tag-names",
                "labels",
                "annotations",
                "json"
            ]
        );
        assert_eq!(get("version"), "main");
        assert_eq!(get("tags"), "name/app:main,name/app:sha-860c190");
        assert_eq!(get("tag-names"), "main,sha-860c190");
        assert!(get("labels").ends_with("\norg.opencontainers.image.version=main"));
        let annotations = get("annotations");
        assert!(annotations.starts_with("manifest:org.opencontainers.image.created="));
        assert!(annotations.contains("\nindex:org.opencontainers.image.description=Nice\n"));
        let json: serde_json::Value = serde_json::from_str(&get("json")).unwrap();
        assert_eq!(json["tags"][1], "name/app:sha-860c190");
        assert_eq!(json["labels"]["org.opencontainers.image.version"], "main");
        assert_eq!(json["annotations"].as_array().unwrap().len(), 16);
        let env = output_env(&outputs);
        assert_eq!(env[2].0, "DOCKER_METADATA_OUTPUT_TAG_NAMES");
    }

    #[test]
    fn reads_inputs_from_a_step() {
        let with: IndexMap<String, String> = [
            ("images", "name/app\n"),
            ("Tags", "type=sha"),
            ("sep-tags", " "),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env: IndexMap<String, String> = [(
            "DOCKER_METADATA_ANNOTATIONS_LEVELS".to_string(),
            "index".to_string(),
        )]
        .into_iter()
        .collect();
        let meta_inputs = MetaInputs::from_step(&with, &env);
        assert_eq!(meta_inputs.images, "name/app");
        assert_eq!(meta_inputs.tags, "type=sha");
        assert_eq!(meta_inputs.sep_tags.as_deref(), Some(" "));
        assert_eq!(meta_inputs.annotation_levels.as_deref(), Some("index"));
        assert!(inputs::unexpected_inputs(&with, INPUTS, "docker/metadata-action").is_empty());
    }

    #[test]
    fn moment_formats() {
        let when: Timestamp = "2020-01-10T15:25:50.123Z".parse().unwrap();
        let zoned = when.to_zoned(TimeZone::UTC);
        let table = [
            ("YYYYMMDD", "20200110"),
            (
                "dddd, MMMM Do YYYY, h:mm:ss a",
                "Friday, January 10th 2020, 3:25:50 pm",
            ),
            ("YY-M-D H:m:s", "20-1-10 15:25:50"),
            ("ddd dd d E Q Qo DDD DDDD", "Fri Fr 5 5 1 1st 10 010"),
            ("W WW Wo GGGG", "2 02 2nd 2020"),
            ("S SS SSS SSSS", "1 12 123 1230"),
            ("A hh kk Z ZZ", "PM 03 15 +00:00 +0000"),
            ("X x", "1578669950 1578669950123"),
            ("[Week] W [of] YYYY", "Week 2 of 2020"),
            ("\\YYYY T", "YYYY T"),
            ("LL", "January 10, 2020"),
            ("MMM Mo", "Jan 1st"),
        ];
        for (format, expected) in table {
            let tokens = parse_moment(format).unwrap();
            assert_eq!(format_moment(&tokens, &zoned), expected, "{format}");
        }
        for bad in ["ww", "gggg", "z", "N", "y"] {
            assert!(parse_moment(bad).is_err(), "{bad}");
        }
        assert_eq!(ordinal(11), "11th");
        assert_eq!(ordinal(22), "22nd");
        assert_eq!(ordinal(103), "103rd");
    }

    #[test]
    fn sanitizes_tags() {
        let table = [
            ("feature/foo", "feature-foo"),
            ("a//b", "a-b"),
            ("Üml@ut", "ml-ut"),
            ("--.x", "x"),
            ("ok_1.2-3", "ok_1.2-3"),
        ];
        for (input, expected) in table {
            assert_eq!(sanitize_tag(input), expected, "{input}");
        }
        assert_eq!(sanitize_tag(&"a".repeat(300)).len(), 128);
    }

    #[test]
    fn semver_and_pep440_parsing() {
        assert_eq!(parse_semver("v1.2.3").unwrap().version, "1.2.3");
        assert!(parse_semver("2.0.0-rc.1").unwrap().prerelease);
        for bad in [
            "1.2", "01.2.3", "1.2.3-01", "1.2.3-", "1.2.3+", "v", "1.2.3.4", "V1.2.3",
        ] {
            assert!(parse_semver(bad).is_none(), "{bad}");
        }
        let table = [
            ("1!2.0", "1!2.0"),
            ("1.0-1", "1.0.post1"),
            ("1.0.0-alpha.1", "1.0.0a1"),
            ("1.0c3", "1.0rc3"),
            ("2.0.post", "2.0.post0"),
            ("1.0+Ubuntu-1", "1.0+ubuntu.1"),
            ("1.0a1.dev2", "1.0a1.dev2"),
        ];
        for (input, expected) in table {
            assert_eq!(parse_pep440(input).unwrap().clean(), expected, "{input}");
        }
        for bad in ["", "abc", "1.0+", "1.0junk", "1..0"] {
            assert!(parse_pep440(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn errors_say_what_to_do() {
        let table: &[(&str, &str, &str, &str, &str)] = &[
            (
                "unknown type",
                "",
                "type=semvar,pattern={{version}}",
                "",
                "unknown type `semvar`",
            ),
            (
                "unknown attribute",
                "",
                "type=sha,pattern=x",
                "",
                "unknown attribute `pattern` for `type=sha`",
            ),
            (
                "bad semver pattern",
                "",
                "type=semver,pattern={{majr}}",
                "",
                "unknown expression `{{majr}}`",
            ),
            (
                "unclosed pattern",
                "",
                "type=semver,pattern={{major",
                "",
                "is not closed",
            ),
            (
                "global in semver pattern",
                "",
                "type=semver,pattern={{branch}}",
                "",
                "unknown expression `{{branch}}`",
            ),
            (
                "missing semver pattern",
                "",
                "type=semver",
                "",
                "needs a pattern",
            ),
            (
                "bad priority",
                "",
                "type=raw,value=x,priority=high",
                "",
                "`priority` must be a whole number",
            ),
            ("missing event", "", "type=ref", "", "needs an event"),
            (
                "bad event",
                "",
                "type=ref,event=push",
                "",
                "unknown event `push`",
            ),
            (
                "missing raw value",
                "",
                "type=raw,priority=1",
                "",
                "needs a value",
            ),
            (
                "bad sha format",
                "",
                "type=sha,format=medium",
                "",
                "unknown format `medium`",
            ),
            (
                "bad match regex",
                "",
                "type=match,pattern=v(",
                "",
                "not a valid regular expression",
            ),
            (
                "bad match flag",
                "",
                "type=match,pattern=/v/g",
                "",
                "flag `g` is not supported",
            ),
            (
                "bad match group",
                "",
                "type=match,pattern=v(.*),group=one",
                "",
                "capture group number",
            ),
            (
                "missing match pattern",
                "",
                "type=match",
                "",
                "needs a pattern",
            ),
            (
                "semver match without group",
                "",
                "type=semver,pattern={{version}},match=v.*",
                "",
                "no capture group",
            ),
            (
                "bad enable",
                "",
                "type=raw,value=x,enable=yes",
                "",
                "must evaluate to `true` or `false`",
            ),
            (
                "unknown tz",
                "",
                "type=raw,value={{date 'YYYY' tz='Mars/Base'}}",
                "",
                "unknown time zone `Mars/Base`",
            ),
            (
                "bad date token",
                "",
                "type=raw,value={{date 'gggg'}}",
                "",
                "`gggg` is not supported",
            ),
            (
                "unknown date attribute",
                "",
                "type=raw,value={{date 'YYYY' zone='UTC'}}",
                "",
                "only `tz='…'`",
            ),
            (
                "unquoted date format",
                "",
                "type=raw,value={{date YYYY}}",
                "",
                "is not a quoted string",
            ),
            (
                "args on a var",
                "",
                "type=raw,value={{branch 'x'}}",
                "",
                "takes no arguments",
            ),
            ("unclosed quote", "", "type=raw,\"value=x", "", "no closing"),
            (
                "text after quote",
                "",
                "type=raw,\"value=x\"y",
                "",
                "after a closing quote",
            ),
            (
                "bad flavor latest",
                "",
                "",
                "latest=sometimes",
                "`latest` must be `auto`, `true` or `false`",
            ),
            (
                "unknown flavor",
                "",
                "",
                "prefx=a",
                "unknown flavor `prefx`",
            ),
            ("flavor without =", "", "", "latest", "is not `key=value`"),
            (
                "onlatest alone",
                "",
                "",
                "onlatest=true",
                "`onlatest` applies to",
            ),
            (
                "bad image attribute",
                "name=a/b,tag=x",
                "",
                "",
                "unknown attribute `tag`",
            ),
            (
                "bad image enable",
                "name=a/b,enable=maybe",
                "",
                "",
                "`enable` must be `true` or `false`",
            ),
            ("image without name", "enable=true", "", "", "has no name"),
            (
                "two names with attributes",
                "a/b,c/d,enable=true",
                "",
                "",
                "more than one image name",
            ),
        ];
        for (what, images, tags, flavor, expected) in table {
            let err = compute(
                &given(images, tags, flavor),
                &ctx("push", "refs/heads/main"),
            )
            .err()
            .unwrap_or_else(|| panic!("{what}: no error"));
            assert!(err.contains(expected), "{what}: {err}");
            assert!(!err.ends_with('.'), "{what}: {err}");
        }
        let mut meta_inputs = given("", "", "");
        meta_inputs.labels = "a={{nope}}".to_string();
        let err = compute(&meta_inputs, &ctx("push", "refs/heads/main")).unwrap_err();
        assert!(
            err.starts_with("input `labels`, line `a={{nope}}`"),
            "{err}"
        );
    }

    #[test]
    fn escapes_and_global_expressions() {
        let mut context = ctx("pull_request", "refs/pull/3/merge");
        context.base_ref = "main";
        let mut meta_inputs = given(
            "",
            "type=raw,value=base-{{base_ref}}-{{tag}}{{branch}}\ntype=raw,value=x{{! comment }}y\ntype=raw,value={{{sha}}}\ntype=raw,value=b{{is_not_default_branch}}",
            "",
        );
        meta_inputs.labels = "tmpl=\\{{.Name}}".to_string();
        let meta = compute(&meta_inputs, &context).unwrap();
        assert_eq!(meta.tags, ["base-main-", "xy", "860c190", "btrue"]);
        assert!(
            meta.labels
                .contains(&("tmpl".to_string(), "{{.Name}}".to_string()))
        );
    }

    #[test]
    fn odd_input_never_panics() {
        let samples = [
            "",
            "\"",
            "\"\"",
            ",",
            "=",
            "==",
            "{{",
            "}}",
            "{{{",
            "{{}}",
            "{{ }}",
            "\\{{",
            "type=",
            "type==",
            "type=raw,value=é€𝄞",
            "type=match,pattern=/",
            "type=match,pattern=//",
            "type=match,pattern=/a/",
            "type=match,pattern=(a)|b,group=1,value=b",
            "type=semver,pattern={{version}},value=1.2.3-é",
            "type=pep440,pattern={{version}},value=1.0é",
            "type=schedule,pattern={{date '['}}",
            "type=schedule,pattern={{date '\\'}}",
            "type=raw,value={{date 'é[x'}}",
            "type=raw,value=99999999999999999999.1.1",
            "type=semver,pattern={{version}},value=99999999999999999999.1.1",
            "type=raw,priority=99999999999999999999,value=x",
            "type=match,pattern=.,group=99999999999999999999",
        ];
        for sample in samples {
            for event in ["push", "schedule", "pull_request"] {
                for git_ref in ["refs/tags/é", "refs/heads/", "", "refs/pull/", "weird"] {
                    let mut context = ctx(event, git_ref);
                    context.sha = "é";
                    let meta_inputs = MetaInputs {
                        images: sample.to_string(),
                        tags: sample.to_string(),
                        flavor: sample.to_string(),
                        labels: sample.to_string(),
                        annotations: sample.to_string(),
                        short_sha_length: Some("0".to_string()),
                        ..MetaInputs::default()
                    };
                    let _ = compute(&meta_inputs, &context);
                    let _ = compute(&given("", sample, ""), &context)
                        .map(|meta| outputs(&meta, &meta_inputs));
                }
            }
        }
    }
}
