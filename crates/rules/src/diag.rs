//! Load diagnostics: errors and warnings with stable codes, a position and the item concerned.

use std::fmt;

/// Whether a diagnostic stops the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// The file (or rule) could not be loaded.
    Error,
    /// The file loads, but something deserves attention.
    Warning,
}

/// Stable diagnostic codes (named like Falco's `rule_loading_messages.h` where one exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The file could not be read.
    LoadErrFileRead,
    /// The YAML text is malformed.
    LoadErrYamlParse,
    /// The YAML is well formed but does not have the expected shape.
    LoadErrYamlValidate,
    /// A condition could not be parsed.
    LoadErrCompileCondition,
    /// An output format could not be compiled.
    LoadErrCompileOutput,
    /// The rules file needs a newer engine.
    LoadErrRequiredEngineVersion,
    /// A required plugin is not provided.
    LoadErrRequiredPluginVersion,
    /// An append/override refers to an item that does not exist.
    LoadErrNoPrevious,
    /// An invalid `override`/`append` combination.
    LoadErrOverride,
    /// An exception is malformed.
    LoadErrException,
    /// Unknown top-level item or key.
    LoadUnknownItem,
    /// A list is defined but never used.
    LoadUnusedList,
    /// A macro is defined but never used.
    LoadUnusedMacro,
    /// A rule runs on every event type.
    LoadNoEvttype,
    /// Deprecated `append: true`.
    LoadDeprecatedAppend,
    /// Deprecated standalone `enabled` item.
    LoadDeprecatedEnabled,
    /// A rule was skipped because of `skip-if-unknown-filter`.
    LoadSkippedRule,
    /// A plugin requirement is satisfied natively by mamori.
    LoadPluginNative,
    /// A name does not follow the naming rules.
    LoadInvalidName,
    /// Something else that Falco warns about.
    LoadWarning,
}

impl Code {
    /// The stable code string, e.g. `LOAD_ERR_YAML_PARSE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::LoadErrFileRead => "LOAD_ERR_FILE_READ",
            Code::LoadErrYamlParse => "LOAD_ERR_YAML_PARSE",
            Code::LoadErrYamlValidate => "LOAD_ERR_YAML_VALIDATE",
            Code::LoadErrCompileCondition => "LOAD_ERR_COMPILE_CONDITION",
            Code::LoadErrCompileOutput => "LOAD_ERR_COMPILE_OUTPUT",
            Code::LoadErrRequiredEngineVersion => "LOAD_ERR_VALIDATE_ENGINE_VERSION",
            Code::LoadErrRequiredPluginVersion => "LOAD_ERR_VALIDATE_PLUGIN_VERSION",
            Code::LoadErrNoPrevious => "LOAD_ERR_NO_PREVIOUS_ITEM",
            Code::LoadErrOverride => "LOAD_ERR_OVERRIDE",
            Code::LoadErrException => "LOAD_ERR_EXCEPTION",
            Code::LoadUnknownItem => "LOAD_UNKNOWN_ITEM",
            Code::LoadUnusedList => "LOAD_UNUSED_LIST",
            Code::LoadUnusedMacro => "LOAD_UNUSED_MACRO",
            Code::LoadNoEvttype => "LOAD_NO_EVTTYPE",
            Code::LoadDeprecatedAppend => "LOAD_DEPRECATED_APPEND",
            Code::LoadDeprecatedEnabled => "LOAD_DEPRECATED_ENABLED",
            Code::LoadSkippedRule => "LOAD_SKIPPED_RULE",
            Code::LoadPluginNative => "LOAD_PLUGIN_NATIVE",
            Code::LoadInvalidName => "LOAD_INVALID_NAME",
            Code::LoadWarning => "LOAD_WARNING",
        }
    }
}

/// A position in a rules file (line 1-based, column 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Pos {
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based.
    pub col: usize,
}

/// One error or warning found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub level: Level,
    /// Stable code.
    pub code: Code,
    /// The file name as given to the loader.
    pub file: String,
    /// Where in the file.
    pub pos: Pos,
    /// The item concerned, e.g. `rule 'Write below etc'`.
    pub item: String,
    /// What is wrong, lowercase.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {level} {}",
            self.file,
            self.pos.line,
            self.pos.col,
            self.code.as_str()
        )?;
        if !self.item.is_empty() {
            write!(f, " ({})", self.item)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects diagnostics during a load.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    /// All diagnostics in the order they were found.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Adds an error.
    pub fn error(&mut self, code: Code, file: &str, pos: Pos, item: &str, msg: impl Into<String>) {
        self.push(Level::Error, code, file, pos, item, msg.into());
    }

    /// Adds a warning.
    pub fn warn(&mut self, code: Code, file: &str, pos: Pos, item: &str, msg: impl Into<String>) {
        self.push(Level::Warning, code, file, pos, item, msg.into());
    }

    fn push(&mut self, level: Level, code: Code, file: &str, pos: Pos, item: &str, msg: String) {
        self.items.push(Diagnostic {
            level,
            code,
            file: file.to_string(),
            pos,
            item: item.to_string(),
            message: msg,
        });
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.level == Level::Error)
    }

    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.level == Level::Error)
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.level == Level::Warning)
    }
}
