//! A step's output pipeline: raw process bytes → workflow commands and
//! masked text → run events.
//!
//! This is the hot path of a chatty step, so it never allocates per line:
//! it scans for newlines with `memchr`, treats only lines that start with
//! `::` as candidate commands, and passes everything else to the streaming
//! masker in large blocks.

use gantry_executor::{OutputSink, Stream};
use indexmap::IndexMap;

use crate::commands::{Command, CommandProcessor, LineKind};
use crate::event::{Annotation, AnnotationLevel, JobKey, RunEvent};
use crate::mask::{MaskStream, Masker};

/// Longest command line we buffer; a longer `::` line is passed on as text.
const MAX_COMMAND_LINE: usize = 1 << 20;
/// Masked text is sent on once this much has accumulated (or at the end of a write).
const FLUSH_AT: usize = 64 * 1024;

/// Buffers of sent output that the consumer is done with, to send more
/// output in: a fresh 64 KiB buffer for every block of a chatty step costs
/// page faults (the allocator gives freed memory back to the system).
static SPARE_BUFFERS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
/// Most buffers kept.
const SPARE_MAX: usize = 32;
/// Larger buffers are freed rather than kept.
const SPARE_MAX_CAPACITY: usize = 512 * 1024;
/// A spare buffer is used only for a write at least this large, so that
/// small output is never sent in a big buffer (the channel bounds the
/// output in flight by its length, not by the buffers' capacity).
const SPARE_MIN_USE: usize = 16 * 1024;

/// Give back the buffer of a [`RunEvent::Output`] once its text is no longer
/// needed, for the engine to send more output in. Optional: a buffer that is
/// dropped instead is simply freed.
pub fn recycle_buffer(mut buffer: Vec<u8>) {
    if buffer.capacity() < SPARE_MIN_USE || buffer.capacity() > SPARE_MAX_CAPACITY {
        return;
    }
    buffer.clear();
    if let Ok(mut spare) = SPARE_BUFFERS.lock()
        && spare.len() < SPARE_MAX
    {
        spare.push(buffer);
    }
}

/// An empty buffer, recycled if one is spare.
fn spare_buffer() -> Vec<u8> {
    SPARE_BUFFERS
        .lock()
        .ok()
        .and_then(|mut spare| spare.pop())
        .unwrap_or_default()
}

/// What the step's output asked of the job besides printing.
#[derive(Debug, Default)]
pub struct StepEffects {
    /// Values registered with `::add-mask::`.
    pub masks: Vec<String>,
    /// Deprecated `::set-output name=…::` values.
    pub outputs: IndexMap<String, String>,
    /// Deprecated `::save-state name=…::` values.
    pub state: IndexMap<String, String>,
    /// `::set-env name=…::` values, when unsecure commands are allowed.
    pub env: IndexMap<String, String>,
    /// `::add-path::` directories, when unsecure commands are allowed.
    pub path: Vec<String>,
    /// Number of `::error::` annotations (for the summary).
    pub errors: usize,
    /// Commands that fail the step (refused or invalid), already reported.
    pub failed: bool,
}

/// One output stream of the process (stdout or stderr) with its own line
/// state and masking stream: bytes of one never land inside a line of the
/// other, so a secret written to stdout in two pieces stays whole (and
/// masked) even when stderr is read in between.
struct Lane {
    stream: MaskStream,
    /// Bytes of a line that starts (or may start) with `::`.
    command_line: Vec<u8>,
    /// Whether the next byte begins a line.
    at_line_start: bool,
    /// Inside a line known not to be a command.
    in_text_line: bool,
}

impl Lane {
    fn new(masker: &Masker) -> Lane {
        Lane {
            stream: masker.stream(),
            command_line: Vec::new(),
            at_line_start: true,
            in_text_line: false,
        }
    }
}

/// The sink a step's process writes into.
pub struct StepSink {
    job: JobKey,
    events: crate::event::EventSender,
    masker: Masker,
    commands: CommandProcessor,
    /// stdout and stderr.
    lanes: [Lane; 2],
    /// The lane being written now.
    lane: usize,
    /// Masked text waiting to be sent.
    pending: Vec<u8>,
    /// Whether output echoes commands (`::echo::on`).
    echo: bool,
    debug: bool,
    /// Whether `set-env` and `add-path` are allowed (`ACTIONS_ALLOW_UNSECURE_COMMANDS`).
    allow_unsecure: bool,
    /// Commands already warned about as deprecated in this step.
    deprecation_warned: Vec<&'static str>,
    pub effects: StepEffects,
}

impl StepSink {
    pub fn new(
        job: JobKey,
        events: crate::event::EventSender,
        masker: Masker,
        debug: bool,
    ) -> StepSink {
        StepSink {
            job,
            events,
            lanes: [Lane::new(&masker), Lane::new(&masker)],
            lane: 0,
            masker,
            commands: CommandProcessor::new(),
            pending: Vec::new(),
            echo: false,
            debug,
            allow_unsecure: false,
            deprecation_warned: Vec::new(),
            effects: StepEffects::default(),
        }
    }

    /// Carries out `set-env` and `add-path` instead of refusing them
    /// (the step's `ACTIONS_ALLOW_UNSECURE_COMMANDS` is `true`).
    pub fn allow_unsecure_commands(mut self, allow: bool) -> StepSink {
        self.allow_unsecure = allow;
        self
    }

    /// Accepts unsafe `stop-commands` tokens (the step's
    /// `ACTIONS_ALLOW_UNSECURE_STOP_COMMANDS` is `true`).
    pub fn allow_unsecure_stop_commands(mut self, allow: bool) -> StepSink {
        self.commands = std::mem::take(&mut self.commands).allow_unsecure_stop_tokens(allow);
        self
    }

    /// Warns once per step that a command is deprecated (as GitHub does).
    fn deprecated(&mut self, name: &'static str) {
        if !self.deprecation_warned.contains(&name) {
            self.deprecation_warned.push(name);
            self.emit(RunEvent::Annotation {
                job: self.job.clone(),
                annotation: Annotation {
                    level: AnnotationLevel::Warning,
                    message: crate::commands::deprecated_message(name),
                    title: None,
                    file: None,
                    line: None,
                    col: None,
                },
            });
        }
    }

    /// The masker after the step's `::add-mask::` commands.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Writes a line of Gantry's own (not from the process), masked.
    pub fn line(&mut self, text: &str) {
        self.text(text.as_bytes());
        self.text(b"\n");
        let lane = &mut self.lanes[self.lane];
        lane.at_line_start = true;
        lane.in_text_line = false;
    }

    /// Sends whatever is left at the end of the step.
    pub fn finish(&mut self) {
        for lane in 0..self.lanes.len() {
            self.lane = lane;
            if !self.lanes[lane].command_line.is_empty() {
                let line = std::mem::take(&mut self.lanes[lane].command_line);
                self.complete_line(&line);
            }
            self.lanes[lane].stream.flush(&mut self.pending);
        }
        self.send_pending();
    }

    fn text(&mut self, bytes: &[u8]) {
        // Sized to what arrives: most steps print little, and a buffer made
        // ahead for every step (or after every send) costs more than the
        // output (a 128 KiB allocation is an mmap and page faults). A chatty
        // step reuses the buffers its earlier output was sent in.
        if self.pending.capacity() == 0 && bytes.len() >= SPARE_MIN_USE {
            self.pending = spare_buffer();
        }
        self.pending.reserve(bytes.len());
        self.lanes[self.lane].stream.push(bytes, &mut self.pending);
        if self.pending.len() >= FLUSH_AT {
            self.send_pending();
        }
    }

    fn send_pending(&mut self) {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            self.events.send(RunEvent::Output {
                job: self.job.clone(),
                text,
            });
        }
    }

    fn emit(&mut self, event: RunEvent) {
        // Keep order: text before this event goes first. Only this lane's:
        // the other may hold the start of a secret in an unfinished line.
        self.lanes[self.lane].stream.flush(&mut self.pending);
        self.send_pending();
        self.events.send(event);
    }

    /// A whole line that started with `::` (without its newline).
    fn complete_line(&mut self, raw: &[u8]) {
        let line = String::from_utf8_lossy(raw);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        match self.commands.line(line) {
            LineKind::Plain => {
                let mut bytes = raw.to_vec();
                bytes.push(b'\n');
                self.text(&bytes);
            }
            LineKind::Command(command) => {
                if matches!(
                    command,
                    Command::StopCommands(_) | Command::ResumeCommands(_)
                ) {
                    let mut bytes = raw.to_vec();
                    bytes.push(b'\n');
                    self.text(&bytes);
                } else if self.echo {
                    let echoed = format!("{line}\n");
                    self.text(echoed.as_bytes());
                }
                self.command(command);
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::AddMask(value) => {
                let value = value.trim().to_string();
                if !value.is_empty() {
                    self.masker = self.masker.with(&value);
                    for lane in &mut self.lanes {
                        lane.stream.set_masker(self.masker.clone());
                    }
                    self.effects.masks.push(value);
                }
            }
            Command::Group(title) => {
                let title = self.masker.mask_str(&title);
                self.emit(RunEvent::GroupStarted {
                    job: self.job.clone(),
                    title,
                });
            }
            Command::EndGroup => self.emit(RunEvent::GroupEnded {
                job: self.job.clone(),
            }),
            Command::Annotation {
                level,
                message,
                properties,
            } => {
                let level = match level {
                    crate::commands::Level::Error => AnnotationLevel::Error,
                    crate::commands::Level::Warning => AnnotationLevel::Warning,
                    crate::commands::Level::Notice => AnnotationLevel::Notice,
                };
                if level == AnnotationLevel::Error {
                    self.effects.errors += 1;
                }
                let annotation = Annotation {
                    level,
                    message: self.masker.mask_str(&message),
                    title: properties.title.as_deref().map(|t| self.masker.mask_str(t)),
                    file: properties.file.as_deref().map(|f| self.masker.mask_str(f)),
                    line: properties.line,
                    col: properties.col,
                };
                self.emit(RunEvent::Annotation {
                    job: self.job.clone(),
                    annotation,
                });
            }
            Command::Debug(message) => {
                if self.debug {
                    let message = self.masker.mask_str(&message);
                    self.emit(RunEvent::Debug {
                        job: self.job.clone(),
                        message,
                    });
                }
            }
            Command::Echo(on) => self.echo = on,
            Command::SetOutput { name, value } => {
                self.deprecated("set-output");
                self.effects.outputs.insert(name, value);
            }
            Command::SaveState { name, value } => {
                self.deprecated("save-state");
                self.effects.state.insert(name, value);
            }
            // GitHub prints these lines; `complete_line` already did.
            Command::StopCommands(_) | Command::ResumeCommands(_) => {}
            Command::Matcher => {}
            Command::SetEnv { name, value } if self.allow_unsecure => {
                self.effects.env.insert(name, value);
            }
            Command::AddPath(dir) if self.allow_unsecure => self.effects.path.push(dir),
            Command::SetEnv { .. } | Command::AddPath(_) => {
                let message = crate::commands::unsecure_command_message(command.name());
                self.fail(message);
            }
            Command::Invalid { message, .. } => self.fail(message),
        }
    }
}

impl StepSink {
    fn fail(&mut self, message: String) {
        self.emit(RunEvent::Annotation {
            job: self.job.clone(),
            annotation: Annotation {
                level: AnnotationLevel::Error,
                message,
                title: None,
                file: None,
                line: None,
                col: None,
            },
        });
        self.effects.errors += 1;
        self.effects.failed = true;
    }
}

impl OutputSink for StepSink {
    fn output(&mut self, stream: Stream, mut bytes: &[u8]) {
        self.lane = match stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        };
        while !bytes.is_empty() {
            let lane = self.lane;
            if self.lanes[lane].command_line.is_empty()
                && self.lanes[lane].at_line_start
                && !self.lanes[lane].in_text_line
                && bytes.len() >= 2
                && !bytes.starts_with(b"::")
            {
                // Fast path: the first two bytes show the line is no command;
                // treat it as text where it lies instead of collecting it.
                self.lanes[lane].at_line_start = false;
                self.lanes[lane].in_text_line = true;
            }
            if !self.lanes[lane].command_line.is_empty()
                || (self.lanes[lane].at_line_start && !self.lanes[lane].in_text_line)
            {
                // Deciding whether this line is a command: collect until we know.
                let newline = memchr::memchr(b'\n', bytes);
                let take = newline.map(|i| i + 1).unwrap_or(bytes.len());
                self.lanes[lane]
                    .command_line
                    .extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
                let is_candidate = self.lanes[lane].command_line.len() < 2
                    || self.lanes[lane].command_line.starts_with(b"::");
                if !is_candidate || self.lanes[lane].command_line.len() > MAX_COMMAND_LINE {
                    // Plain text: pass it on.
                    let line = std::mem::take(&mut self.lanes[lane].command_line);
                    let ends = line.ends_with(b"\n");
                    self.text(&line);
                    self.lanes[lane].at_line_start = ends;
                    self.lanes[lane].in_text_line = !ends;
                    continue;
                }
                if newline.is_some() {
                    let mut line = std::mem::take(&mut self.lanes[lane].command_line);
                    line.pop();
                    self.complete_line(&line);
                    self.lanes[lane].at_line_start = true;
                    self.lanes[lane].in_text_line = false;
                }
                continue;
            }
            // Inside a text line: everything up to its newline is text, and so
            // is every following line that does not start with `::`. One SIMD
            // search for `\n::` finds the next possible command line, so text
            // without commands costs no work per line.
            let end = match command_start().find(bytes) {
                // The next line starts with `::`: stop after its newline.
                Some(i) => i + 1,
                None => match memchr::memrchr(b'\n', bytes) {
                    // The last line is too short to tell (`:` may become
                    // `::`): leave it to the deciding branch.
                    Some(i) if bytes.len() - (i + 1) < 2 => i + 1,
                    // Otherwise it is text too: it does not start with `::`,
                    // or the search would have found its `\n::`.
                    _ => bytes.len(),
                },
            };
            let ends = bytes[end - 1] == b'\n';
            self.text(&bytes[..end]);
            bytes = &bytes[end..];
            self.lanes[lane].at_line_start = ends;
            self.lanes[lane].in_text_line = !ends;
        }
        if self.pending.len() >= FLUSH_AT / 4 || self.lanes[self.lane].command_line.is_empty() {
            self.send_pending();
        }
    }
}

/// The searcher for `\n::`, the start of a line that may be a command.
fn command_start() -> &'static memchr::memmem::Finder<'static> {
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> =
        std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"\n::"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::MaskerBuilder;

    /// What a step's output became: the masked text, and the other events
    /// (as their `Debug` text).
    fn run_sink(masker: &Masker, pieces: &[(Stream, &[u8])]) -> (String, Vec<String>) {
        let (events, mut received) = crate::event::channel(1 << 30);
        let mut sink = StepSink::new("job".into(), events, masker.clone(), false);
        for (stream, bytes) in pieces {
            sink.output(*stream, bytes);
        }
        sink.finish();
        drop(sink);
        let mut text = Vec::new();
        let mut others = Vec::new();
        while let Some(event) = received.try_recv() {
            match event {
                RunEvent::Output { text: t, .. } => text.extend_from_slice(&t),
                other => others.push(format!("{other:?}")),
            }
        }
        (String::from_utf8_lossy(&text).into_owned(), others)
    }

    fn masker(secrets: &[&str]) -> Masker {
        let mut builder = MaskerBuilder::new();
        for secret in secrets {
            builder.add(secret);
        }
        builder.build()
    }

    const MIXED: &[u8] = b"first line\n::add-mask::late-s3cr3t\nsee late-s3cr3t and sk_000_hDAEYqL62pBum9BIy2ewA5s0 here\n\
:: not a command\n::warning::careful\n:\n::\nx::y\nlast\r\n::group::g\ntext sk_000_hDAEYqL62pBum9BIy2ewA5s0\n::endgroup::\ntail";

    #[test]
    fn commands_and_secrets_survive_every_split() {
        let m = masker(&["sk_000_hDAEYqL62pBum9BIy2ewA5s0"]);
        let (whole, events) = run_sink(&m, &[(Stream::Stdout, MIXED)]);
        assert_eq!(
            whole,
            "first line\nsee *** and *** here\n:: not a command\n:\n::\nx::y\nlast\r\ntext ***\ntail"
        );
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(events[0].contains("careful") && events[1].contains("GroupStarted"));
        for split in 0..=MIXED.len() {
            let (a, b) = MIXED.split_at(split);
            let pieces = [(Stream::Stdout, a), (Stream::Stdout, b)];
            assert_eq!(
                run_sink(&m, &pieces),
                (whole.clone(), events.clone()),
                "{split}"
            );
        }
        let bytes: Vec<(Stream, &[u8])> = MIXED.chunks(1).map(|c| (Stream::Stdout, c)).collect();
        assert_eq!(run_sink(&m, &bytes), (whole, events));
    }

    #[test]
    fn a_command_after_many_text_lines_in_one_read() {
        let m = Masker::empty();
        let mut input = b"text line\n".repeat(1000);
        input.extend_from_slice(b"::error::bad\nmore\n::debug::x");
        let (text, events) = run_sink(&m, &[(Stream::Stdout, &input)]);
        assert_eq!(text.len(), 1000 * 10 + 5);
        assert!(text.ends_with("text line\nmore\n"));
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(events[0].contains("bad"));
    }

    #[test]
    fn streams_keep_their_own_lines() {
        // A `::` line on stderr is recognised even while stdout is mid-line,
        // and a secret split across stdout reads is masked although stderr
        // was read in between.
        let m = masker(&["sk_000_hDAEYqL62pBum9BIy2ewA5s0"]);
        let pieces: [(Stream, &[u8]); 4] = [
            (Stream::Stdout, b"a sk_000_hDAEYqL6"),
            (Stream::Stderr, b"::warning::w\n"),
            (Stream::Stdout, b"2pBum9BIy2ewA5s0 b\n"),
            (Stream::Stderr, b"::notice::n\n"),
        ];
        let (text, events) = run_sink(&m, &pieces);
        assert_eq!(text, "a *** b\n");
        assert_eq!(events.len(), 2, "{events:?}");
    }

    #[test]
    fn spare_buffers_are_reused_only_for_large_writes() {
        recycle_buffer(Vec::with_capacity(SPARE_MIN_USE * 2));
        // Too small or too large buffers are not kept.
        recycle_buffer(Vec::with_capacity(16));
        recycle_buffer(Vec::with_capacity(SPARE_MAX_CAPACITY + 1));
        let spare = spare_buffer();
        assert!(spare.is_empty());
        assert!(spare.capacity() <= SPARE_MAX_CAPACITY);
    }
}
