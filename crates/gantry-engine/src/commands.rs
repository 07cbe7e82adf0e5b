//! Workflow commands (`::add-mask::`, `::group::`, …) and runner files (`$GITHUB_OUTPUT`, `$GITHUB_ENV`).
//!
//! Pure functions, following the GitHub runner (`ActionCommand.TryParseV2`,
//! `ActionCommandManager`, `FileCommandManager`):
//!
//! * a command line is `::name key=value,key2=value2::message`; leading
//!   whitespace before the first `::` is allowed (the runner trims it), the
//!   name is case-insensitive, and an unknown name makes the line plain text;
//! * the message unescapes `%25` `%0D` `%0A`; property values also `%3A` `%2C`;
//! * `::stop-commands::TOKEN` turns commands off until a `::TOKEN::` line
//!   ([`CommandProcessor`]);
//! * `$GITHUB_OUTPUT`, `$GITHUB_ENV` and `$GITHUB_STATE` hold `NAME=value`
//!   lines and `NAME<<DELIMITER` heredocs ([`parse_env_file`]);
//!   `$GITHUB_PATH` holds one directory per line ([`parse_path_file`]).

/// The environment variable that re-enables `set-env` and `add-path`.
pub const ALLOW_UNSECURE_COMMANDS: &str = "ACTIONS_ALLOW_UNSECURE_COMMANDS";

/// The environment variable that allows `stop-commands` tokens that are
/// empty, `pause-logging` or the name of a workflow command.
pub const ALLOW_UNSECURE_STOP_COMMANDS: &str = "ACTIONS_ALLOW_UNSECURE_STOP_COMMANDS";

/// Every command name the runner recognises (lower case).
const KNOWN_COMMANDS: &[&str] = &[
    "add-mask",
    "add-matcher",
    "add-path",
    "debug",
    "echo",
    "endgroup",
    "error",
    "group",
    "notice",
    "remove-matcher",
    "save-state",
    "set-env",
    "set-output",
    "stop-commands",
    "warning",
];

/// Severity of an annotation command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

/// The properties of `::error`, `::warning` and `::notice`, normalised like
/// the runner does: an `endLine` without `line` becomes `line`, columns
/// without a line or across several lines are dropped, and ends before
/// starts drop the pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnnotationProperties {
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_column: Option<u32>,
}

/// A recognised workflow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `::add-mask::value` — mask `value` from now on. May be empty or
    /// whitespace (GitHub warns "can't add secret mask for empty string").
    AddMask(String),
    /// `::group::title`
    Group(String),
    /// `::endgroup::`
    EndGroup,
    /// `::error …::message`, `::warning …::message`, `::notice …::message`
    Annotation {
        level: Level,
        message: String,
        properties: AnnotationProperties,
    },
    /// `::debug::message` — shown only when step debug logging is on.
    Debug(String),
    /// `::echo::on` / `::echo::off` — whether command lines are printed.
    Echo(bool),
    /// `::stop-commands::TOKEN` — commands are off until `::TOKEN::`.
    /// GitHub prints this line.
    StopCommands(String),
    /// The `::TOKEN::` line that turned commands back on. GitHub prints it.
    ResumeCommands(String),
    /// `::add-matcher::` / `::remove-matcher::` — problem matchers are not
    /// supported; the line is consumed silently.
    Matcher,
    /// Deprecated `::set-output name=NAME::value`; still works on GitHub,
    /// with the warning [`deprecated_message`].
    SetOutput { name: String, value: String },
    /// Deprecated `::save-state name=NAME::value`; still works on GitHub,
    /// with the warning [`deprecated_message`].
    SaveState { name: String, value: String },
    /// `::set-env name=NAME::value` — disabled on GitHub unless
    /// [`ALLOW_UNSECURE_COMMANDS`] is `true`; refuse it with
    /// [`unsecure_command_message`] (an error that fails the step).
    SetEnv { name: String, value: String },
    /// `::add-path::dir` — disabled like [`Command::SetEnv`].
    AddPath(String),
    /// A recognised command that cannot be carried out (missing `name`,
    /// bad `echo` value, unsafe stop token). GitHub reports an error and fails
    /// the step; `message` says what to do.
    Invalid { command: String, message: String },
}

impl Command {
    /// The command's name, for messages.
    pub fn name(&self) -> &str {
        match self {
            Command::AddMask(_) => "add-mask",
            Command::Group(_) => "group",
            Command::EndGroup => "endgroup",
            Command::Annotation { level, .. } => match level {
                Level::Error => "error",
                Level::Warning => "warning",
                Level::Notice => "notice",
            },
            Command::Debug(_) => "debug",
            Command::Echo(_) => "echo",
            Command::StopCommands(_) => "stop-commands",
            Command::ResumeCommands(token) => token,
            Command::Matcher => "add-matcher",
            Command::SetOutput { .. } => "set-output",
            Command::SaveState { .. } => "save-state",
            Command::SetEnv { .. } => "set-env",
            Command::AddPath(_) => "add-path",
            Command::Invalid { command, .. } => command,
        }
    }

    /// True for `set-env` and `add-path`, which run only when
    /// [`ALLOW_UNSECURE_COMMANDS`] is `true`.
    pub fn is_unsecure(&self) -> bool {
        matches!(self, Command::SetEnv { .. } | Command::AddPath(_))
    }
}

/// The error for `set-env` / `add-path` when unsecure commands are not allowed.
pub fn unsecure_command_message(name: &str) -> String {
    let file = if name == "add-path" {
        "$GITHUB_PATH"
    } else {
        "$GITHUB_ENV"
    };
    format!(
        "the `{name}` command is disabled (as on GitHub): append to the file in {file} instead, or set {ALLOW_UNSECURE_COMMANDS}=true to allow it"
    )
}

/// The warning GitHub shows for every use of `set-output` / `save-state`.
pub fn deprecated_message(name: &str) -> String {
    let file = if name == "save-state" {
        "$GITHUB_STATE"
    } else {
        "$GITHUB_OUTPUT"
    };
    format!(
        "the `{name}` command is deprecated and will be disabled: append `NAME=value` to the file in {file} instead"
    )
}

/// A command line split into its parts, before unescaping.
struct RawCommand<'a> {
    name: &'a str,
    properties: Option<&'a str>,
    data: &'a str,
}

/// Split `::name props::data`; `None` when the line has no command shape.
fn split_command(line: &str) -> Option<RawCommand<'_>> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let rest = line.trim_start().strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let data = &rest[end + 2..];
    let (name, properties) = match info.split_once(' ') {
        Some((name, properties)) => (name, Some(properties)),
        None => (info, None),
    };
    if name.is_empty() {
        return None;
    }
    Some(RawCommand {
        name,
        properties,
        data,
    })
}

/// Undo the runner's escaping: `%25` `%0D` `%0A`, and `%3A` `%2C` in properties.
fn unescape(text: &str, property: bool) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3);
        let decoded = match code {
            Some("25") => Some('%'),
            Some("0D") => Some('\r'),
            Some("0A") => Some('\n'),
            Some("3A") if property => Some(':'),
            Some("2C") if property => Some(','),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `key=value` pairs split by `,`; pairs with an empty key or value are
/// dropped, like the runner does.
fn parse_properties(text: Option<&str>) -> Vec<(&str, String)> {
    let Some(text) = text else {
        return Vec::new();
    };
    text.trim()
        .split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (!key.is_empty() && !value.is_empty()).then(|| (key, unescape(value, true)))
        })
        .collect()
}

/// The last value of a property, by case-insensitive name.
fn property(properties: &[(&str, String)], name: &str) -> Option<String> {
    properties
        .iter()
        .rev()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.clone())
}

/// Parse one line of output (without its line terminator; a trailing
/// `\r` is ignored). `None` for plain text, including unknown `::foo::`
/// commands, which GitHub prints as they are.
pub fn parse_command(line: &str) -> Option<Command> {
    let raw = split_command(line)?;
    let name = raw.name.to_ascii_lowercase();
    let data = || unescape(raw.data, false);
    let named = |command: &str| {
        let properties = parse_properties(raw.properties);
        match property(&properties, "name") {
            Some(name) => Ok((name, unescape(raw.data, false))),
            None => Err(Command::Invalid {
                command: command.to_owned(),
                message: format!("`{command}` needs a name: write `::{command} name=NAME::value`"),
            }),
        }
    };
    let command = match name.as_str() {
        "add-mask" => Command::AddMask(data()),
        "group" => Command::Group(data()),
        "endgroup" => Command::EndGroup,
        "error" => annotation(Level::Error, &raw),
        "warning" => annotation(Level::Warning, &raw),
        "notice" => annotation(Level::Notice, &raw),
        "debug" => Command::Debug(data()),
        "stop-commands" => Command::StopCommands(data()),
        "echo" => {
            let value = data();
            match value.trim().to_ascii_lowercase().as_str() {
                "on" => Command::Echo(true),
                "off" => Command::Echo(false),
                _ => Command::Invalid {
                    command: "echo".to_owned(),
                    message: format!(
                        "invalid `echo` value `{value}`: use `::echo::on` or `::echo::off`"
                    ),
                },
            }
        }
        "add-matcher" | "remove-matcher" => Command::Matcher,
        "set-output" => match named("set-output") {
            Ok((name, value)) => Command::SetOutput { name, value },
            Err(invalid) => invalid,
        },
        "save-state" => match named("save-state") {
            Ok((name, value)) => Command::SaveState { name, value },
            Err(invalid) => invalid,
        },
        "set-env" => match named("set-env") {
            Ok((name, value)) => Command::SetEnv { name, value },
            Err(invalid) => invalid,
        },
        "add-path" => Command::AddPath(data()),
        _ => return None,
    };
    Some(command)
}

fn annotation(level: Level, raw: &RawCommand<'_>) -> Command {
    let properties = parse_properties(raw.properties);
    let number =
        |name: &str| property(&properties, name).and_then(|v| v.trim().parse::<u32>().ok());
    let mut props = AnnotationProperties {
        title: property(&properties, "title"),
        file: property(&properties, "file"),
        line: number("line"),
        end_line: number("endLine"),
        col: number("col"),
        end_column: number("endColumn"),
    };
    normalize_positions(&mut props);
    Command::Annotation {
        level,
        message: unescape(raw.data, false),
        properties: props,
    }
}

/// The runner's `ValidateLinesAndColumns`.
fn normalize_positions(p: &mut AnnotationProperties) {
    if p.line.is_none() && p.end_line.is_some() {
        p.line = p.end_line;
    }
    if p.col.is_none() && p.end_column.is_some() {
        p.col = p.end_column;
    }
    let has_column = p.col.is_some() || p.end_column.is_some();
    if p.line.is_none() && has_column {
        p.col = None;
        p.end_column = None;
    }
    if p.end_line.is_some() && p.line != p.end_line && has_column {
        p.col = None;
        p.end_column = None;
    }
    if let (Some(line), Some(end)) = (p.line, p.end_line)
        && end < line
    {
        p.line = None;
        p.end_line = None;
    }
    if let (Some(col), Some(end)) = (p.col, p.end_column)
        && end < col
    {
        p.col = None;
        p.end_column = None;
    }
}

/// What a line of output is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Text to print.
    Plain,
    /// A command to carry out (the line itself is not printed unless
    /// `::echo::on`; see [`Command`] for the exceptions).
    Command(Command),
}

/// Turns lines into commands, honouring `::stop-commands::`. One per step.
#[derive(Debug, Clone, Default)]
pub struct CommandProcessor {
    /// While commands are stopped: the token that resumes them.
    stopped: Option<String>,
    allow_unsecure_stop_tokens: bool,
}

impl CommandProcessor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept stop tokens that are empty, `pause-logging` or a command name
    /// (when [`ALLOW_UNSECURE_STOP_COMMANDS`] is `true`).
    pub fn allow_unsecure_stop_tokens(mut self, allow: bool) -> Self {
        self.allow_unsecure_stop_tokens = allow;
        self
    }

    /// True while commands are stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped.is_some()
    }

    /// Classify one line of output (without its line terminator).
    pub fn line(&mut self, line: &str) -> LineKind {
        if let Some(token) = &self.stopped {
            // Only `::TOKEN::` counts now; an empty token never resumes.
            let resumes = !token.is_empty()
                && split_command(line).is_some_and(|raw| raw.name.eq_ignore_ascii_case(token));
            if resumes {
                let token = self.stopped.take().unwrap_or_default();
                return LineKind::Command(Command::ResumeCommands(token));
            }
            return LineKind::Plain;
        }
        match parse_command(line) {
            None => LineKind::Plain,
            Some(Command::StopCommands(token)) => {
                let unsafe_token = token.is_empty()
                    || token.eq_ignore_ascii_case("pause-logging")
                    || KNOWN_COMMANDS
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&token));
                if unsafe_token && !self.allow_unsecure_stop_tokens {
                    return LineKind::Command(Command::Invalid {
                        command: "stop-commands".to_owned(),
                        message: format!(
                            "invalid `stop-commands` token `{token}`: use a unique token that is not empty, not `pause-logging` and not a workflow command name, or set {ALLOW_UNSECURE_STOP_COMMANDS}=true"
                        ),
                    });
                }
                self.stopped = Some(token.clone());
                LineKind::Command(Command::StopCommands(token))
            }
            Some(command) => LineKind::Command(command),
        }
    }
}

/// Why a runner file could not be read. Line numbers start at 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    #[error("line {line}: `{text}` has an empty name: write `NAME=value` or `NAME<<DELIMITER`")]
    EmptyName { line: usize, text: String },
    #[error(
        "line {line}: `{name}<<` has no delimiter: write `{name}<<EOF`, the value's lines, then a line `EOF`"
    )]
    EmptyDelimiter { line: usize, name: String },
    #[error(
        "line {line}: the multi-line value `{name}<<{delimiter}` never ends: add a line containing only `{delimiter}` after the value"
    )]
    Unterminated {
        line: usize,
        name: String,
        delimiter: String,
    },
    #[error(
        "line {line}: `{text}` is neither `NAME=value` nor `NAME<<DELIMITER`: write one of those forms, one per line"
    )]
    Invalid { line: usize, text: String },
}

/// Shorten a line for an error message.
fn excerpt(line: &str) -> String {
    const MAX: usize = 60;
    if line.len() <= MAX {
        return line.to_owned();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &line[..end])
}

/// Lines of `content` with their byte offset; a trailing `\r` is not part of
/// the line. The last line may lack a newline.
fn lines_with_offsets(content: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut offset = 0;
    content.split_inclusive('\n').map(move |raw| {
        let start = offset;
        offset += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        (start, line.strip_suffix('\r').unwrap_or(line))
    })
}

/// Parse `$GITHUB_OUTPUT`, `$GITHUB_ENV` or `$GITHUB_STATE`: `NAME=value`
/// lines and `NAME<<DELIMITER` heredocs whose value is every line up to a
/// line that is exactly `DELIMITER` (line terminators inside the value are
/// kept as written; the one before the delimiter is not part of it). Empty
/// lines are skipped; CRLF line ends and a UTF-8 BOM are accepted. Pairs come
/// in file order; a repeated name appears again (the last one wins).
pub fn parse_env_file(content: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut pairs = Vec::new();
    let mut lines = lines_with_offsets(content).enumerate();
    while let Some((index, (_, line))) = lines.next() {
        let number = index + 1;
        if line.is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        match (equals, heredoc) {
            (Some(eq), h) if h.is_none_or(|h| eq < h) => {
                let (name, value) = (&line[..eq], &line[eq + 1..]);
                if name.is_empty() {
                    return Err(EnvFileError::EmptyName {
                        line: number,
                        text: excerpt(line),
                    });
                }
                pairs.push((name.to_owned(), value.to_owned()));
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                if name.is_empty() {
                    return Err(EnvFileError::EmptyName {
                        line: number,
                        text: excerpt(line),
                    });
                }
                if delimiter.is_empty() {
                    return Err(EnvFileError::EmptyDelimiter {
                        line: number,
                        name: name.to_owned(),
                    });
                }
                let mut value: Option<&str> = None;
                let mut start: Option<usize> = None;
                for (_, (offset, candidate)) in lines.by_ref() {
                    let first = *start.get_or_insert(offset);
                    if candidate == delimiter {
                        let body = &content[first..offset];
                        let body = body.strip_suffix('\n').unwrap_or(body);
                        let body = body.strip_suffix('\r').unwrap_or(body);
                        value = Some(body);
                        break;
                    }
                }
                let Some(value) = value else {
                    return Err(EnvFileError::Unterminated {
                        line: number,
                        name: name.to_owned(),
                        delimiter: delimiter.to_owned(),
                    });
                };
                pairs.push((name.to_owned(), value.to_owned()));
            }
            _ => {
                return Err(EnvFileError::Invalid {
                    line: number,
                    text: excerpt(line),
                });
            }
        }
    }
    Ok(pairs)
}

/// Parse `$GITHUB_PATH`: one directory per line, in file order; empty lines
/// are skipped, CRLF line ends and a UTF-8 BOM accepted. Later entries take
/// precedence when prepended to `PATH`.
pub fn parse_path_file(content: &str) -> Vec<String> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    lines_with_offsets(content)
        .map(|(_, line)| line)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(f: impl FnOnce(&mut AnnotationProperties)) -> AnnotationProperties {
        let mut p = AnnotationProperties::default();
        f(&mut p);
        p
    }

    fn annotation(
        level: Level,
        message: &str,
        properties: AnnotationProperties,
    ) -> Option<Command> {
        Some(Command::Annotation {
            level,
            message: message.to_owned(),
            properties,
        })
    }

    fn s(text: &str) -> String {
        text.to_owned()
    }

    #[test]
    fn parse_command_table() {
        let invalid = |command: &str, message: &str| {
            Some(Command::Invalid {
                command: s(command),
                message: s(message),
            })
        };
        let cases: Vec<(&str, Option<Command>)> = vec![
            (
                "::add-mask::hunter22",
                Some(Command::AddMask(s("hunter22"))),
            ),
            ("::add-mask::", Some(Command::AddMask(s("")))),
            ("::add-mask::a%0Ab", Some(Command::AddMask(s("a\nb")))),
            (
                "::group::Build %25 test",
                Some(Command::Group(s("Build % test"))),
            ),
            ("::group::", Some(Command::Group(s("")))),
            ("::endgroup::", Some(Command::EndGroup)),
            ("::ENDGROUP::", Some(Command::EndGroup)),
            ("::debug::x%0D%0Ay", Some(Command::Debug(s("x\r\ny")))),
            ("::debug::a::b", Some(Command::Debug(s("a::b")))),
            (
                "::stop-commands::tok3n",
                Some(Command::StopCommands(s("tok3n"))),
            ),
            ("::echo::on", Some(Command::Echo(true))),
            ("::echo:: OFF ", Some(Command::Echo(false))),
            (
                "::echo::maybe",
                invalid(
                    "echo",
                    "invalid `echo` value `maybe`: use `::echo::on` or `::echo::off`",
                ),
            ),
            ("::add-matcher::.github/m.json", Some(Command::Matcher)),
            ("::remove-matcher owner=eslint::", Some(Command::Matcher)),
            (
                "::set-output name=result::a%0Ab",
                Some(Command::SetOutput {
                    name: s("result"),
                    value: s("a\nb"),
                }),
            ),
            (
                "::set-output::x",
                invalid(
                    "set-output",
                    "`set-output` needs a name: write `::set-output name=NAME::value`",
                ),
            ),
            (
                "::save-state name=pid::42",
                Some(Command::SaveState {
                    name: s("pid"),
                    value: s("42"),
                }),
            ),
            (
                "::set-env name=FOO::bar",
                Some(Command::SetEnv {
                    name: s("FOO"),
                    value: s("bar"),
                }),
            ),
            (
                "::add-path::/opt/bin",
                Some(Command::AddPath(s("/opt/bin"))),
            ),
            // Annotations.
            (
                "::error::boom",
                annotation(Level::Error, "boom", props(|_| {})),
            ),
            (
                "::warning::careful",
                annotation(Level::Warning, "careful", props(|_| {})),
            ),
            (
                "::notice::fyi",
                annotation(Level::Notice, "fyi", props(|_| {})),
            ),
            (
                "::error file=app.js,line=1,col=5,endColumn=7,title=Bad%3A %2C thing::Missing semicolon",
                annotation(
                    Level::Error,
                    "Missing semicolon",
                    props(|p| {
                        p.file = Some(s("app.js"));
                        p.line = Some(1);
                        p.col = Some(5);
                        p.end_column = Some(7);
                        p.title = Some(s("Bad: , thing"));
                    }),
                ),
            ),
            (
                "::warning file=a.rs,line=3,endLine=9::m",
                annotation(
                    Level::Warning,
                    "m",
                    props(|p| {
                        p.file = Some(s("a.rs"));
                        p.line = Some(3);
                        p.end_line = Some(9);
                    }),
                ),
            ),
            // Property names are case-insensitive; the last value wins; empty
            // keys and values are dropped; numbers that do not parse are absent.
            (
                "::error FILE=x.c,file=y.c,line=,=3,col=abc::m",
                annotation(Level::Error, "m", props(|p| p.file = Some(s("y.c")))),
            ),
            // Normalisation: endLine alone becomes line; columns need a line.
            (
                "::error endLine=4::m",
                annotation(
                    Level::Error,
                    "m",
                    props(|p| {
                        p.line = Some(4);
                        p.end_line = Some(4);
                    }),
                ),
            ),
            (
                "::error col=4::m",
                annotation(Level::Error, "m", props(|_| {})),
            ),
            (
                "::error line=2,endLine=5,col=1::m",
                annotation(
                    Level::Error,
                    "m",
                    props(|p| {
                        p.line = Some(2);
                        p.end_line = Some(5);
                    }),
                ),
            ),
            (
                "::error line=5,endLine=2::m",
                annotation(Level::Error, "m", props(|_| {})),
            ),
            (
                "::error line=5,col=9,endColumn=3::m",
                annotation(Level::Error, "m", props(|p| p.line = Some(5))),
            ),
            // The message keeps `%3A` (only properties decode it), and
            // unknown escapes stay as they are.
            (
                "::error::a%3Ab%2C%zz%",
                annotation(Level::Error, "a%3Ab%2C%zz%", props(|_| {})),
            ),
            // Leading whitespace is trimmed by the runner; a trailing CR is a line end.
            ("  ::endgroup::", Some(Command::EndGroup)),
            ("\t::group::x\r", Some(Command::Group(s("x")))),
            // Not commands.
            ("", None),
            ("plain text", None),
            ("::foo::bar", None),
            ("::add-mask", None),
            (":: add-mask::x", None),
            ("::::", None),
            ("x ::error::y", None),
            ("::error,file=a::m", None),
        ];
        for (line, expected) in cases {
            assert_eq!(parse_command(line), expected, "{line:?}");
        }
    }

    #[test]
    fn command_helpers() {
        assert!(
            Command::SetEnv {
                name: s("A"),
                value: s("b")
            }
            .is_unsecure()
        );
        assert!(Command::AddPath(s("/x")).is_unsecure());
        assert!(!Command::EndGroup.is_unsecure());
        assert_eq!(Command::Matcher.name(), "add-matcher");
        assert_eq!(
            unsecure_command_message("add-path"),
            "the `add-path` command is disabled (as on GitHub): append to the file in $GITHUB_PATH instead, or set ACTIONS_ALLOW_UNSECURE_COMMANDS=true to allow it"
        );
        assert_eq!(
            deprecated_message("set-output"),
            "the `set-output` command is deprecated and will be disabled: append `NAME=value` to the file in $GITHUB_OUTPUT instead"
        );
    }

    #[test]
    fn stop_and_resume_commands() {
        let mut p = CommandProcessor::new();
        let steps: Vec<(&str, LineKind)> = vec![
            ("::group::a", LineKind::Command(Command::Group(s("a")))),
            (
                "::stop-commands::s3cret-t0ken",
                LineKind::Command(Command::StopCommands(s("s3cret-t0ken"))),
            ),
            ("::group::ignored", LineKind::Plain),
            ("::stop-commands::other", LineKind::Plain),
            ("text", LineKind::Plain),
            (
                "::s3cret-t0ken:: x",
                LineKind::Command(Command::ResumeCommands(s("s3cret-t0ken"))),
            ),
            ("::endgroup::", LineKind::Command(Command::EndGroup)),
            // The resume token is case-insensitive, like command names.
            (
                "::stop-commands::Tok",
                LineKind::Command(Command::StopCommands(s("Tok"))),
            ),
            (
                "::tok::",
                LineKind::Command(Command::ResumeCommands(s("Tok"))),
            ),
            ("::tok::", LineKind::Plain),
        ];
        for (line, expected) in steps {
            assert_eq!(p.line(line), expected, "{line:?}");
        }
        assert!(!p.is_stopped());
    }

    #[test]
    fn unsafe_stop_tokens_are_refused_unless_allowed() {
        for token in ["", "pause-logging", "group", "ADD-MASK", "stop-commands"] {
            let mut p = CommandProcessor::new();
            let line = format!("::stop-commands::{token}");
            assert!(
                matches!(p.line(&line), LineKind::Command(Command::Invalid { .. })),
                "{line}"
            );
            assert!(!p.is_stopped());
            assert_eq!(p.line("::endgroup::"), LineKind::Command(Command::EndGroup));
        }
        let mut p = CommandProcessor::new().allow_unsecure_stop_tokens(true);
        assert_eq!(
            p.line("::stop-commands::group"),
            LineKind::Command(Command::StopCommands(s("group")))
        );
        assert_eq!(p.line("::endgroup::"), LineKind::Plain);
        assert_eq!(
            p.line("::group::x"),
            LineKind::Command(Command::ResumeCommands(s("group")))
        );
        // An empty token never resumes.
        assert_eq!(
            p.line("::stop-commands::"),
            LineKind::Command(Command::StopCommands(s("")))
        );
        assert_eq!(p.line("::::"), LineKind::Plain);
        assert!(p.is_stopped());
    }

    type Parsed = Result<Vec<(String, String)>, EnvFileError>;

    #[test]
    fn env_file_table() {
        let pairs = |list: &[(&str, &str)]| -> Parsed {
            Ok(list.iter().map(|(k, v)| (s(k), s(v))).collect())
        };
        let cases: Vec<(&str, Parsed)> = vec![
            ("", pairs(&[])),
            ("\n\n", pairs(&[])),
            (
                "A=1\nB=two words\n",
                pairs(&[("A", "1"), ("B", "two words")]),
            ),
            ("A=1", pairs(&[("A", "1")])),
            ("A=\n", pairs(&[("A", "")])),
            ("A=x=y\n", pairs(&[("A", "x=y")])),
            ("A=1\nA=2\n", pairs(&[("A", "1"), ("A", "2")])),
            ("A=1\r\nB=2\r\n", pairs(&[("A", "1"), ("B", "2")])),
            ("\u{feff}A=1\n", pairs(&[("A", "1")])),
            // `=` before `<<` is a plain value, `<<` first a heredoc.
            ("A=x<<y\n", pairs(&[("A", "x<<y")])),
            (
                "A<<EOF\nline 1\nline 2\nEOF\n",
                pairs(&[("A", "line 1\nline 2")]),
            ),
            ("A<<EOF\nEOF\nB=2", pairs(&[("A", ""), ("B", "2")])),
            ("A<<EOF\n\nEOF\n", pairs(&[("A", "")])),
            ("A<<EOF\n\n\nEOF\n", pairs(&[("A", "\n")])),
            ("A<<E=F\nv\nE=F\n", pairs(&[("A", "v")])),
            ("A<<EOF\nx=1\n EOF\nEOF", pairs(&[("A", "x=1\n EOF")])),
            (
                "A<<EOF\r\none\r\ntwo\r\nEOF\r\n",
                pairs(&[("A", "one\r\ntwo")]),
            ),
            (
                "JSON<<ghadelim_123\n{\"a\": 1}\nghadelim_123\nNEXT=ok\n",
                pairs(&[("JSON", "{\"a\": 1}"), ("NEXT", "ok")]),
            ),
            (
                "=value\n",
                Err(EnvFileError::EmptyName {
                    line: 1,
                    text: s("=value"),
                }),
            ),
            (
                "A=1\n<<EOF\nx\nEOF\n",
                Err(EnvFileError::EmptyName {
                    line: 2,
                    text: s("<<EOF"),
                }),
            ),
            (
                "A<<\nx\n",
                Err(EnvFileError::EmptyDelimiter {
                    line: 1,
                    name: s("A"),
                }),
            ),
            (
                "A=1\n\nB<<EOF\nnever closed\nEOF \n",
                Err(EnvFileError::Unterminated {
                    line: 3,
                    name: s("B"),
                    delimiter: s("EOF"),
                }),
            ),
            (
                "A=1\njust text\n",
                Err(EnvFileError::Invalid {
                    line: 2,
                    text: s("just text"),
                }),
            ),
            (
                "   \n",
                Err(EnvFileError::Invalid {
                    line: 1,
                    text: s("   "),
                }),
            ),
        ];
        for (content, expected) in cases {
            assert_eq!(parse_env_file(content), expected, "{content:?}");
        }
    }

    #[test]
    fn env_file_errors_say_what_to_do() {
        let messages = [
            (
                "=v",
                "line 1: `=v` has an empty name: write `NAME=value` or `NAME<<DELIMITER`",
            ),
            (
                "A<<",
                "line 1: `A<<` has no delimiter: write `A<<EOF`, the value's lines, then a line `EOF`",
            ),
            (
                "X=1\nA<<END\nv",
                "line 2: the multi-line value `A<<END` never ends: add a line containing only `END` after the value",
            ),
            (
                "oops",
                "line 1: `oops` is neither `NAME=value` nor `NAME<<DELIMITER`: write one of those forms, one per line",
            ),
        ];
        for (content, message) in messages {
            assert_eq!(parse_env_file(content).unwrap_err().to_string(), message);
        }
        let long = "x".repeat(200);
        let err = parse_env_file(&long).unwrap_err().to_string();
        assert!(err.len() < 200, "{err}");
    }

    #[test]
    fn path_file_table() {
        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("", vec![]),
            ("/opt/bin\n", vec!["/opt/bin"]),
            ("/a\n\n/b\r\n/c", vec!["/a", "/b", "/c"]),
            ("\u{feff}/a\n", vec!["/a"]),
            ("/with space/bin\n", vec!["/with space/bin"]),
        ];
        for (content, expected) in cases {
            assert_eq!(parse_path_file(content), expected, "{content:?}");
        }
    }
}
