//! The ASL parser and validator on arbitrary bytes: never a panic; a
//! definition it accepts is runnable or refused with problems.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(machine) = sluice_dsl::StateMachine::from_json(text) {
        let _ = machine.check_runnable();
        let _ = machine.all_states();
    }
});
