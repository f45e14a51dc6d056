//! What a message for a user (Lock's notice) may hold: text, and nothing a terminal
//! would take as a command. An escape sequence in a lock message would reach the user's
//! terminal as a command (clear the screen, retitle the window, on some terminals even
//! answer back into the shell's input), so control characters are refused with a clear
//! error rather than passed on or silently dropped.

/// The longest message, in characters: a full-screen notice, not a document.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// Checks a message; the error says what is wrong with it, for a person to read.
pub fn check_message(message: &str) -> Result<(), String> {
    if message.trim().is_empty() {
        return Err("the message is empty: give the text to show".into());
    }
    let count = message.chars().count();
    if count > MAX_MESSAGE_CHARS {
        return Err(format!(
            "the message is {count} characters long; at most {MAX_MESSAGE_CHARS} are allowed"
        ));
    }
    // Line breaks and tabs are text; every other C0 control, DEL and the C1 controls
    // (U+0080..U+009F, which some terminals also obey) are not.
    if let Some((at, c)) = message
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t'))
    {
        return Err(format!(
            "the message holds the control character U+{:04X} at character {}; a message is text and may not carry terminal control sequences",
            c as u32,
            at + 1
        ));
    }
    Ok(())
}

/// `message` with anything a terminal would obey taken out (tabs become spaces): for
/// drawing text that did not come through [`check_message`], such as an old record.
pub fn printable(message: &str) -> String {
    message
        .chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            '\n' => Some('\n'),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_passes() {
        assert_eq!(check_message("The exam is over.\nPens down."), Ok(()));
        assert_eq!(check_message("Tabs\tare text; so is ünïcødé ✓"), Ok(()));
    }

    #[test]
    fn empty_long_and_control_messages_are_refused_with_the_reason() {
        assert!(check_message("").unwrap_err().contains("empty"));
        assert!(check_message(" \n ").unwrap_err().contains("empty"));
        let long = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(check_message(&long)
            .unwrap_err()
            .contains("1001 characters"));
        assert_eq!(check_message(&"x".repeat(MAX_MESSAGE_CHARS)), Ok(()));
        let esc = check_message("hi\x1b[2J").unwrap_err();
        assert!(esc.contains("U+001B at character 3"), "{esc}");
        assert!(check_message("a\rb").unwrap_err().contains("U+000D"));
        assert!(check_message("a\u{7f}").unwrap_err().contains("U+007F"));
        assert!(check_message("a\u{9b}2J").unwrap_err().contains("U+009B"));
    }

    #[test]
    fn printable_drops_what_a_terminal_obeys() {
        assert_eq!(printable("a\x1b[2Jb\tc\nd\u{9b}"), "a[2Jb c\nd");
    }
}
