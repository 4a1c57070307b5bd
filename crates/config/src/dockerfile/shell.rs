//! A small POSIX shell reader: enough to split `RUN` scripts into simple commands with their
//! arguments and to see pipes, for the apt/apk/pip/npm/curl rules. Not a full shell parser:
//! quotes, escapes, `$(…)` and backticks are kept inside words; control operators split
//! commands; reserved words (`if`, `then`, `do`, …) and leading `VAR=value` assignments are
//! dropped from the front of a command.

/// One simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command name, without a leading path (`/usr/bin/apt-get` → `apt-get`).
    pub name: String,
    /// The arguments, unquoted.
    pub args: Vec<String>,
    /// Whether this command's output is piped into the next one.
    pub piped_to_next: bool,
}

impl Command {
    /// Whether the command has flag `f`: `-f` within a short-flag group for one-letter names,
    /// `--f` or `--f=value` for longer names.
    pub fn has_flag(&self, f: &str) -> bool {
        for a in &self.args {
            if a == "--" {
                break;
            }
            if let Some(long) = a.strip_prefix("--") {
                if long.split('=').next() == Some(f) {
                    return true;
                }
            } else if let Some(short) = a.strip_prefix('-') {
                if f.len() == 1 && short.contains(f) && !short.starts_with('-') {
                    return true;
                }
            }
        }
        false
    }

    /// Whether any of the flags is present.
    pub fn has_any_flag(&self, flags: &[&str]) -> bool {
        flags.iter().any(|f| self.has_flag(f))
    }

    /// Whether the arguments contain `word` exactly.
    pub fn has_arg(&self, word: &str) -> bool {
        self.args.iter().any(|a| a == word)
    }

    /// The arguments that are not flags.
    pub fn positional(&self) -> impl Iterator<Item = &str> {
        self.args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str)
    }
}

/// A shell script split into commands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// Simple commands in order.
    pub commands: Vec<Command>,
    /// Whether the script contains a pipe (`|`, not `||`).
    pub has_pipe: bool,
}

impl Script {
    /// Commands named `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Command> + 'a {
        self.commands.iter().filter(move |c| c.name == name)
    }

    /// Commands `name sub …` (e.g. `apt-get install`).
    pub fn sub<'a>(
        &'a self,
        name: &'a str,
        sub: &'a str,
    ) -> impl Iterator<Item = &'a Command> + 'a {
        self.named(name)
            .filter(move |c| c.positional().next() == Some(sub))
    }
}

const RESERVED: &[&str] = &[
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "(", ")",
    "time", "exec", "command", "nohup", "env",
];

enum Tok {
    Word(String),
    /// A control operator; `true` for a pipe.
    Op(bool),
}

/// Reads `(…)` after a `$`, balancing parentheses; appends it to `word`, returns the inside.
fn read_subst(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, word: &mut String) -> String {
    word.push('$');
    let mut depth = 0usize;
    let mut inner = String::new();
    for d in chars.by_ref() {
        word.push(d);
        if d == '(' {
            depth += 1;
            if depth == 1 {
                continue;
            }
        } else if d == ')' {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                break;
            }
        }
        inner.push(d);
    }
    inner
}

/// Whether a `|` glued to the word before it continues a `case` pattern (`amd64|arm64)`).
fn is_case_alternative(chars: &std::iter::Peekable<std::str::Chars<'_>>) -> bool {
    let rest: String = chars
        .clone()
        .take_while(|c| !c.is_whitespace() && *c != ';' && *c != '&')
        .collect();
    !rest.is_empty() && !rest.starts_with('|') && rest.ends_with(')') && !rest.contains('(')
}

fn tokenize(script: &str, subs: &mut Vec<String>) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let flush = |word: &mut String, in_word: &mut bool, toks: &mut Vec<Tok>| {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for d in chars.by_ref() {
                    if d == '\'' {
                        break;
                    }
                    word.push(d);
                }
            }
            '"' => {
                in_word = true;
                while let Some(d) = chars.next() {
                    match d {
                        '"' => break,
                        '$' if chars.peek() == Some(&'(') => {
                            subs.push(read_subst(&mut chars, &mut word))
                        }
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        _ => word.push(d),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(e) = chars.next() {
                    if e != '\n' {
                        word.push(e);
                    }
                }
            }
            '$' if chars.peek() == Some(&'(') => {
                // Keep a command substitution inside the word; its commands are read separately.
                in_word = true;
                subs.push(read_subst(&mut chars, &mut word));
            }
            '`' => {
                in_word = true;
                word.push('`');
                for d in chars.by_ref() {
                    word.push(d);
                    if d == '`' {
                        break;
                    }
                }
            }
            '#' if !in_word => {
                // Comment to end of line.
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
                toks.push(Tok::Op(false));
            }
            '|' if in_word && is_case_alternative(&chars) => word.push('|'),
            '|' => {
                flush(&mut word, &mut in_word, &mut toks);
                if chars.peek() == Some(&'|') {
                    chars.next();
                    toks.push(Tok::Op(false));
                } else {
                    toks.push(Tok::Op(true));
                }
            }
            '&' | ';' | '\n' | '(' | ')' => {
                flush(&mut word, &mut in_word, &mut toks);
                if c == '&' && chars.peek() == Some(&'&') {
                    chars.next();
                }
                if c == ';' && chars.peek() == Some(&';') {
                    chars.next();
                }
                toks.push(Tok::Op(false));
            }
            '>' | '<' => {
                // A redirection: the operator ends the word; the target becomes a word that we
                // drop below by marking it.
                if in_word && !word.is_empty() && word.chars().all(|d| d.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                flush(&mut word, &mut in_word, &mut toks);
                while chars.peek().is_some_and(|d| matches!(d, '>' | '<' | '&')) {
                    chars.next();
                }
                toks.push(Tok::Word("\u{0}redir".to_string()));
            }
            c if c.is_whitespace() => flush(&mut word, &mut in_word, &mut toks),
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut in_word, &mut toks);
    toks
}

fn is_assignment(w: &str) -> bool {
    match w.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Splits a script into simple commands (those inside `$(…)` are appended after the others).
pub fn parse(script: &str) -> Script {
    parse_depth(script, 0)
}

fn parse_depth(script: &str, depth: u32) -> Script {
    let mut out = Script::default();
    let mut words: Vec<String> = Vec::new();
    let end = |words: &mut Vec<String>, piped: bool, out: &mut Script| {
        let mut it = std::mem::take(words).into_iter().peekable();
        let mut skip_redirect_target = false;
        let mut cleaned = Vec::new();
        for w in it.by_ref() {
            if w == "\u{0}redir" {
                skip_redirect_target = true;
                continue;
            }
            if skip_redirect_target {
                skip_redirect_target = false;
                continue;
            }
            cleaned.push(w);
        }
        let mut iter = cleaned
            .into_iter()
            .skip_while(|w| RESERVED.contains(&w.as_str()) || is_assignment(w));
        if let Some(name) = iter.next() {
            let name = name.rsplit('/').next().unwrap_or(&name).to_string();
            out.commands.push(Command {
                name,
                args: iter.collect(),
                piped_to_next: piped,
            });
        }
        if piped {
            out.has_pipe = true;
        }
    };
    let mut subs = Vec::new();
    for tok in tokenize(script, &mut subs) {
        match tok {
            Tok::Word(w) => words.push(w),
            Tok::Op(pipe) => end(&mut words, pipe, &mut out),
        }
    }
    end(&mut words, false, &mut out);
    if depth < 8 {
        for sub in subs {
            let inner = parse_depth(&sub, depth + 1);
            out.has_pipe |= inner.has_pipe;
            out.commands.extend(inner.commands);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Script) -> Vec<&str> {
        s.commands.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn splits_on_operators() {
        let s = parse("set -eux; apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl=7.1 ; rm -rf /var/lib/apt/lists/*");
        assert_eq!(names(&s), vec!["set", "apt-get", "apt-get", "rm"]);
        let install = s.sub("apt-get", "install").next().unwrap();
        assert!(install.has_flag("y"));
        assert!(install.has_flag("no-install-recommends"));
        assert!(!s.has_pipe);
    }

    #[test]
    fn pipes_quotes_and_substitutions() {
        let s = parse("curl -fsSL 'https://x | y' | sh -s -- a || true");
        assert_eq!(names(&s), vec!["curl", "sh", "true"]);
        assert!(s.has_pipe);
        assert!(s.commands[0].piped_to_next);
        let s =
            parse("dpkgArch=\"$(dpkg --print-architecture | awk -F- '{ print $NF }')\"; echo ok");
        assert_eq!(names(&s), vec!["echo", "dpkg", "awk"]);
        assert!(s.has_pipe);
    }

    #[test]
    fn case_patterns_are_not_pipes() {
        let s = parse("case \"$a\" in x86_64|aarch64) echo ok ;; *) echo no ;; esac");
        assert!(!s.has_pipe);
        assert!(parse("echo a|tee b").has_pipe);
    }

    #[test]
    fn reserved_words_and_redirects() {
        let s = parse("if [ -f x ]; then cd /tmp; fi; echo a > /dev/null 2>&1");
        assert_eq!(names(&s), vec!["[", "cd", "echo"]);
        assert_eq!(s.commands[2].args, vec!["a".to_string()]);
        let s = parse("/usr/bin/wget -qO- x");
        assert!(s.commands[0].has_flag("q"));
    }
}
