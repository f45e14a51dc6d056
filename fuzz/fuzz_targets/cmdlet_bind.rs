//! The cmdlet binder (`wms Close-WmsSession -SessionId 3,4 -WhatIf`) on arbitrary words.
//!
//! The input is a command line, one word per line (or per NUL-terminated piece when the
//! input holds a NUL, so that words may contain newlines). The first word is the cmdlet
//! name; when it names no cmdlet, the verb is chosen by the input's first byte, so that
//! every verb is reached whatever the mutator does to the name. The words after it are
//! bound.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wms_cli::cmdlet::{self, SelectionArg};
use wms_core::Verb;

const VERBS: [Verb; 5] = [
    Verb::Get,
    Verb::Close,
    Verb::Disconnect,
    Verb::Lock,
    Verb::Unlock,
];

fuzz_target!(|data: &[u8]| {
    let Some(&first_byte) = data.first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    let separator = if data.contains(&0) { '\0' } else { '\n' };
    let mut words = text.split_terminator(separator).map(str::to_string);
    let name = words.next().unwrap_or_default();
    let args: Vec<String> = words.collect();

    // The cmdlet name matcher: exact names only, in any letter case, optionally qualified
    // by the module (`MultiPoint\Close-WmsSession`).
    let named = cmdlet::cmdlet_verb(&name);
    if let Some(verb) = named {
        let unqualified = match name.split_once('\\') {
            Some((module, rest)) => {
                assert!(module.eq_ignore_ascii_case(cmdlet::MODULE), "{name:?}");
                rest
            }
            None => name.as_str(),
        };
        assert!(
            verb.cmdlet().eq_ignore_ascii_case(unqualified),
            "{name:?} -> {verb:?}"
        );
        assert_eq!(cmdlet::cmdlet_verb(&name.to_ascii_uppercase()), Some(verb));
        assert_eq!(cmdlet::cmdlet_verb(&name.to_ascii_lowercase()), Some(verb));
    }
    for verb in VERBS {
        assert_eq!(cmdlet::cmdlet_verb(verb.cmdlet()), Some(verb));
    }
    let verb = named.unwrap_or(VERBS[usize::from(first_byte) % VERBS.len()]);

    let result = cmdlet::bind(verb, &args);
    // Binding is pure: the same words bind the same way again.
    assert_eq!(result, cmdlet::bind(verb, &args), "{args:?}");

    match result {
        Ok(inv) => {
            assert_eq!(inv.verb, verb);
            // No IDs at all only as `-All:$false` binds it (the All set, nothing in it).
            if let SelectionArg::Ids(ids) = &inv.selection {
                assert!(
                    !ids.is_empty() || args.iter().any(|a| a.starts_with('-') && a.contains(':')),
                    "empty -SessionId bound from {args:?}"
                );
            }
            // Message exists only on Lock-WmsSession, where it is mandatory: left out, it
            // is asked for on a terminal, and without one it is a binding error.
            assert!(
                inv.message.is_none() || verb == Verb::Lock,
                "message {:?} for {verb:?} from {args:?}",
                inv.message
            );
            // ... unless the lock goes through logind (-UseLogind), which shows none.
            if verb == Verb::Lock {
                assert_eq!(
                    cmdlet::complete(inv.clone(), None).is_ok(),
                    inv.message.is_some() || inv.logind,
                    "{args:?}"
                );
            }
            // Get-WmsSession changes nothing, so it has no -WhatIf or -Confirm.
            if verb == Verb::Get {
                assert!(!inv.what_if && inv.confirm.is_none(), "{args:?}");
            }
            // Without any argument nothing is bound (IDs may still come from a pipe).
            if args.is_empty() {
                assert_eq!(inv.selection, SelectionArg::Unbound);
            }
        }
        Err(e) => {
            assert_eq!(e.cmdlet, verb.cmdlet());
            assert!(!e.message.is_empty(), "{args:?}");
            assert!(
                matches!(
                    e.category,
                    "ParameterBindingException" | "NotSupportedException"
                ),
                "{}",
                e.category
            );
            let shown = e.to_string();
            assert!(!shown.is_empty());
            assert!(shown.ends_with(')'), "{shown:?}");
            assert!(
                shown.starts_with(&format!("{}: ", verb.cmdlet())),
                "{shown:?}"
            );
        }
    }

    // The error for a missing selection is a well-formed binding error for every verb.
    let missing = cmdlet::missing_selection(verb);
    assert_eq!(missing.cmdlet, verb.cmdlet());
    assert!(missing.to_string().ends_with(')'));
});
