//! Splitting a dispatch line into words exactly as upstream does with
//! Python's `shlex.split(line, comments=True)` (POSIX mode), so that every line
//! written for the upstream helper reads the same here. The `shlex` crate
//! follows the POSIX shell instead and differs in three places that matter:
//! `#` inside a word starts a comment in Python (`a#b` is `a`), `\$` and
//! `` \` `` keep their backslash inside double quotes, and `\r` is whitespace.

/// Why a line cannot be split (Python's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordsError {
    #[error("No closing quotation")]
    NoClosingQuotation,
    #[error("No escaped character")]
    NoEscapedCharacter,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Between words.
    Space,
    /// In a word, outside quotes.
    Word,
    /// Inside quotes opened by this character.
    Quote(char),
    /// After a backslash; returns to the state it was in.
    Escape(Escaped),
}

#[derive(Clone, Copy, PartialEq)]
enum Escaped {
    Word,
    DoubleQuote,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The words of one line; a `#` outside quotes ends it.
pub fn split_words(line: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut state = State::Space;
    for c in line.chars() {
        match state {
            State::Space | State::Word => {
                if is_space(c) || c == '#' {
                    if state == State::Word {
                        words.push(std::mem::take(&mut word));
                    }
                    state = State::Space;
                    if c == '#' {
                        return Ok(words);
                    }
                } else if c == '\\' {
                    state = State::Escape(Escaped::Word);
                } else if c == '\'' || c == '"' {
                    state = State::Quote(c);
                } else {
                    word.push(c);
                    state = State::Word;
                }
            }
            State::Quote(q) => {
                if c == q {
                    // Even an empty pair of quotes makes a word.
                    state = State::Word;
                } else if c == '\\' && q == '"' {
                    state = State::Escape(Escaped::DoubleQuote);
                } else {
                    word.push(c);
                }
            }
            State::Escape(from) => {
                // In double quotes only \" and \\ are escapes; the backslash stays otherwise.
                if from == Escaped::DoubleQuote && c != '"' && c != '\\' {
                    word.push('\\');
                }
                word.push(c);
                state = match from {
                    Escaped::Word => State::Word,
                    Escaped::DoubleQuote => State::Quote('"'),
                };
            }
        }
    }
    match state {
        State::Quote(_) => Err(WordsError::NoClosingQuotation),
        State::Escape(_) => Err(WordsError::NoEscapedCharacter),
        State::Word => {
            words.push(word);
            Ok(words)
        }
        State::Space => Ok(words),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        split_words(line).unwrap()
    }

    // Expected values are what Python 3's shlex.split(line, comments=True) returns.
    #[test]
    fn like_python_shlex() {
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words("   # just a comment"), Vec::<String>::new());
        assert_eq!(words("job -p a=1"), ["job", "-p", "a=1"]);
        assert_eq!(words("  job\t-p  a=1  "), ["job", "-p", "a=1"]);
        assert_eq!(
            words("job -g name='Alba Mons'"),
            ["job", "-g", "name=Alba Mons"]
        );
        assert_eq!(
            words(r#"job -p "a=x \"y\" \$z \\ \n""#),
            ["job", "-p", r#"a=x "y" \$z \ \n"#]
        );
        assert_eq!(words(r"job -p a=x\ y\#z"), ["job", "-p", "a=x y#z"]);
        assert_eq!(words("job -p 'a=it''s'"), ["job", "-p", "a=its"]);
        assert_eq!(words(r#"job -p 'a=\"'"#), ["job", "-p", r#"a=\""#]);
        assert_eq!(words("job '' \"\""), ["job", "", ""]);
        assert_eq!(words("job # -p a=1"), ["job"]);
        assert_eq!(words("job -p a=1#2"), ["job", "-p", "a=1"]);
        assert_eq!(words("job -p 'a=1#2'"), ["job", "-p", "a=1#2"]);
        assert_eq!(words("job ''#"), ["job", ""]);
        assert_eq!(words("job\r"), ["job"]);
    }

    #[test]
    fn unbalanced() {
        assert_eq!(
            split_words("job -p 'a=1"),
            Err(WordsError::NoClosingQuotation)
        );
        assert_eq!(
            split_words("job -p \"a=1"),
            Err(WordsError::NoClosingQuotation)
        );
        assert_eq!(split_words("job \\"), Err(WordsError::NoEscapedCharacter));
        assert_eq!(split_words("job \"\\"), Err(WordsError::NoEscapedCharacter));
    }
}
