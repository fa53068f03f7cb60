//! Numbers as English words, Roman numerals and spreadsheet-style letters,
//! both ways.

const UNITS: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];

const UNIT_ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];

/// Twenty to Ninety.
const TENS: [&str; 8] = [
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety",
];

/// 10^3, 10^6, 10^9, 10^12; larger numbers repeat "Trillion".
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];

/// `value` (a non-negative integer) in title-case English words, e.g.
/// "Five Hundred and Fifty-Five"; `ordinal` gives "Fifty-Fifth".
pub(crate) fn to_words(value: f64, ordinal: bool) -> String {
    let mut out = String::new();
    push_words(&mut out, value, false, ordinal);
    out
}

/// Append the words for `num`; `after` says words precede it, so it is
/// joined with " and " (below a hundred) or ", ".
fn push_words(out: &mut String, num: f64, after: bool, ordinal: bool) {
    if num < 20.0 {
        if after {
            out.push_str(" and ");
        }
        let table = if ordinal { &UNIT_ORDINALS } else { &UNITS };
        out.push_str(table[num as usize]);
    } else if num < 100.0 {
        if after {
            out.push_str(" and ");
        }
        let tens = TENS[(num / 10.0) as usize - 2];
        let rest = num % 10.0;
        if rest > 0.0 {
            out.push_str(tens);
            out.push('-');
            push_words(out, rest, false, ordinal);
        } else if ordinal {
            // Twenty → Twentieth
            out.push_str(&tens[..tens.len() - 1]);
            out.push_str("ieth");
        } else {
            out.push_str(tens);
        }
    } else {
        if after {
            out.push_str(", ");
        }
        let (factor, name) = if num < 1000.0 {
            (100.0, "Hundred")
        } else {
            magnitude(num)
        };
        let lead = (num / factor).floor();
        let rest = num - lead * factor;
        push_words(out, lead, false, false);
        out.push(' ');
        out.push_str(name);
        if rest > 0.0 {
            push_words(out, rest, true, ordinal);
        } else if ordinal {
            out.push_str("th");
        }
    }
}

/// The largest named power of a thousand not above `num` (at least 1000).
fn magnitude(num: f64) -> (f64, &'static str) {
    let mut index = 0;
    let mut factor = 1000.0;
    while index + 1 < MAGNITUDES.len() && num >= factor * 1000.0 {
        index += 1;
        factor *= 1000.0;
    }
    (factor, MAGNITUDES[index])
}

/// The value of one (lower-case) word, cardinal or ordinal.
fn word_value(word: &str) -> Option<f64> {
    let find = |table: &[&str]| table.iter().position(|w| w.eq_ignore_ascii_case(word));
    if let Some(i) = find(&UNITS).or_else(|| find(&UNIT_ORDINALS)) {
        return Some(i as f64);
    }
    for (i, tens) in TENS.iter().enumerate() {
        let ordinal = format!("{}ieth", &tens[..tens.len() - 1]);
        if tens.eq_ignore_ascii_case(word) || ordinal.eq_ignore_ascii_case(word) {
            return Some((i as f64 + 2.0) * 10.0);
        }
    }
    if word == "hundred" || word == "hundredth" {
        return Some(100.0);
    }
    MAGNITUDES.iter().enumerate().find_map(|(i, m)| {
        let lower = m.to_ascii_lowercase();
        (word == lower || word.strip_suffix("th") == Some(lower.as_str()))
            .then(|| 1000f64.powi(i as i32 + 1))
    })
}

/// Every number word, lower case, cardinal and ordinal.
pub(crate) fn word_list() -> Vec<String> {
    let mut list: Vec<String> = UNITS
        .iter()
        .chain(&UNIT_ORDINALS)
        .map(|w| w.to_lowercase())
        .collect();
    for tens in TENS {
        list.push(tens.to_lowercase());
        list.push(format!("{}ieth", tens[..tens.len() - 1].to_lowercase()));
    }
    list.extend(["hundred".to_string(), "hundredth".to_string()]);
    for m in MAGNITUDES {
        list.push(m.to_lowercase());
        list.push(format!("{}th", m.to_lowercase()));
    }
    list
}

/// Read English number words ("three thousand, seven hundred and
/// thirty-first", "nineteen hundred and eighty-four"); `None` when a word
/// is not a number word.
pub(crate) fn from_words(text: &str) -> Option<f64> {
    let text = text.to_lowercase();
    let text = text.replace(", ", " ").replace(" and ", " ");
    // running groups: a group below 1000 still takes smaller words
    let mut groups: Vec<f64> = vec![0.0];
    for word in text
        .split(|c: char| c.is_whitespace() || c == '-' || c == '\\')
        .filter(|w| !w.is_empty())
    {
        let value = word_value(word)?;
        let top = groups.pop().unwrap_or(0.0);
        if value < 100.0 {
            if top >= 1000.0 {
                groups.push(top);
                groups.push(value);
            } else {
                groups.push(top + value);
            }
        } else {
            groups.push(top * value);
        }
    }
    Some(groups.iter().sum())
}

const ROMAN: [(u64, &str); 13] = [
    (1000, "m"),
    (900, "cm"),
    (500, "d"),
    (400, "cd"),
    (100, "c"),
    (90, "xc"),
    (50, "l"),
    (40, "xl"),
    (10, "x"),
    (9, "ix"),
    (5, "v"),
    (4, "iv"),
    (1, "i"),
];

/// Lower-case Roman numerals; zero is the empty string.
pub(crate) fn to_roman(mut value: u64) -> String {
    let mut out = String::new();
    for (n, numeral) in ROMAN {
        while value >= n {
            out.push_str(numeral);
            value -= n;
        }
    }
    out
}

/// Roman numerals in either case; `None` for any other letter.
pub(crate) fn from_roman(text: &str) -> Option<f64> {
    let mut total = 0i64;
    let mut max = 1i64;
    for c in text.chars().rev() {
        let value = match c.to_ascii_uppercase() {
            'M' => 1000,
            'D' => 500,
            'C' => 100,
            'L' => 50,
            'X' => 10,
            'V' => 5,
            'I' => 1,
            _ => return None,
        };
        if value < max {
            total -= value;
        } else {
            max = value;
            total += value;
        }
    }
    Some(total as f64)
}

/// Spreadsheet-style letters: 1 → a, 26 → z, 27 → aa; `base` is `a` or `A`.
pub(crate) fn to_letters(mut value: u64, base: char) -> String {
    let mut letters = Vec::new();
    while value > 0 {
        letters.push(char::from(base as u8 + ((value - 1) % 26) as u8));
        value = (value - 1) / 26;
    }
    letters.iter().rev().collect()
}

/// The inverse of [`to_letters`]; `None` for a character outside `a`–`z`
/// (or `A`–`Z` when `base` is `A`).
pub(crate) fn from_letters(text: &str, base: char) -> Option<f64> {
    text.chars().try_fold(0.0, |acc, c| {
        let offset = (c as u32).checked_sub(base as u32).filter(|o| *o < 26)?;
        Some(acc * 26.0 + f64::from(offset + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_join_hundreds_with_and_and_thousands_with_commas() {
        assert_eq!(
            to_words(3730.0, false),
            "Three Thousand, Seven Hundred and Thirty"
        );
        assert_eq!(
            to_words(1_000_000_000_001.0, true),
            "One Trillion and First"
        );
        assert_eq!(to_words(20.0, true), "Twentieth");
        assert_eq!(to_words(1e15, false), "One Thousand Trillion");
    }

    #[test]
    fn words_read_back() {
        for n in [0.0, 19.0, 34.0, 100.0, 555.0, 3731.0, 4_327_732.0, 1e15] {
            assert_eq!(from_words(&to_words(n, false)), Some(n));
            assert_eq!(from_words(&to_words(n, true)), Some(n));
        }
        assert_eq!(from_words("nineteen hundred and eighty-four"), Some(1984.0));
        assert_eq!(from_words("eleventy"), None);
    }

    #[test]
    fn roman_and_letters_round_trip() {
        assert_eq!(to_roman(1984), "mcmlxxxiv");
        assert_eq!(from_roman("MCMLXXXIV"), Some(1984.0));
        assert_eq!(to_letters(27, 'a'), "aa");
        assert_eq!(to_letters(123_456, 'A'), "FZPH");
        assert_eq!(from_letters("FZPH", 'A'), Some(123_456.0));
        assert_eq!(from_letters("Fz", 'A'), None);
    }
}
