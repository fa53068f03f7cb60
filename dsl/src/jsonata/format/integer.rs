//! `$formatInteger` / `$parseInteger` pictures (F&O 3.1 §4.6.1): decimal
//! digit patterns in any Unicode digit family, letters, Roman numerals and
//! words, each with an optional `;o` ordinal modifier.

use super::words;
use super::FormatError;

/// The zero of every decimal digit family a pattern may use.
const DIGIT_FAMILIES: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];

/// The largest number written in letters or Roman numerals (a million
/// is a thousand `M`s).
const SEQUENCE_LIMIT: f64 = 1e6;

/// The zero of the digit family `c` belongs to.
fn family_of(c: char) -> Option<u32> {
    let code = c as u32;
    DIGIT_FAMILIES
        .iter()
        .copied()
        .find(|zero| (*zero..=*zero + 9).contains(&code))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Case {
    Lower,
    Upper,
    Title,
}

/// Where grouping separators go, counted in digits from the right.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Grouping {
    /// The same separator every `every` digits, as far left as digits go.
    Regular { every: usize, separator: char },
    /// Separators at fixed positions only (possibly none).
    Fixed(Vec<(usize, char)>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DigitPattern {
    /// The zero digit of the pattern's family.
    pub zero: u32,
    pub mandatory: usize,
    pub optional: usize,
    pub grouping: Grouping,
    /// Exact width to read when parsing a date part that another number
    /// follows directly.
    pub parse_width: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Style {
    Digits(DigitPattern),
    Letters,
    Roman,
    Words,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IntegerPicture {
    pub style: Style,
    pub case: Case,
    pub ordinal: bool,
}

impl IntegerPicture {
    /// Analyse a picture such as `#,##0`, `A`, `i`, `Ww;o`.
    pub(crate) fn parse(picture: &str) -> Result<IntegerPicture, FormatError> {
        let (primary, modifier) = match picture.rfind(';') {
            Some(i) => (&picture[..i], Some(&picture[i + 1..])),
            None => (picture, None),
        };
        let ordinal = modifier.is_some_and(|m| m.starts_with('o'));
        let (style, case) = match primary {
            "A" => (Style::Letters, Case::Upper),
            "a" => (Style::Letters, Case::Lower),
            "I" => (Style::Roman, Case::Upper),
            "i" => (Style::Roman, Case::Lower),
            "W" => (Style::Words, Case::Upper),
            "Ww" => (Style::Words, Case::Title),
            "w" => (Style::Words, Case::Lower),
            _ => (Style::Digits(digit_pattern(primary)?), Case::Lower),
        };
        Ok(IntegerPicture {
            style,
            case,
            ordinal,
        })
    }

    pub(crate) fn digits(&self) -> Option<&DigitPattern> {
        match &self.style {
            Style::Digits(d) => Some(d),
            _ => None,
        }
    }

    /// Format `value` (an integer). Letters and Roman numerals beyond
    /// [`SEQUENCE_LIMIT`] are written as decimal digits, as F&O allows
    /// for numbers out of a sequence's range.
    pub(crate) fn format(&self, value: f64) -> String {
        let magnitude = value.abs();
        let sequence = matches!(self.style, Style::Letters | Style::Roman);
        if sequence && magnitude > SEQUENCE_LIMIT {
            let plain = IntegerPicture::parse("0").map(|p| p.format(value));
            return plain.unwrap_or_default();
        }
        let body = match &self.style {
            Style::Letters => {
                let base = if self.case == Case::Upper { 'A' } else { 'a' };
                words::to_letters(magnitude as u64, base)
            }
            Style::Roman => {
                let roman = words::to_roman(magnitude as u64);
                match self.case {
                    Case::Upper => roman.to_uppercase(),
                    _ => roman,
                }
            }
            Style::Words => {
                let text = words::to_words(magnitude, self.ordinal);
                match self.case {
                    Case::Upper => text.to_uppercase(),
                    Case::Lower => text.to_lowercase(),
                    Case::Title => text,
                }
            }
            Style::Digits(pattern) => {
                let mut s = pattern.format(magnitude);
                if self.ordinal {
                    s.push_str(ordinal_suffix(magnitude));
                }
                s
            }
        };
        if value < 0.0 {
            format!("-{body}")
        } else {
            body
        }
    }

    /// Read `text` formatted with this picture; `None` when it holds no
    /// number in this style. Like jsonata-js, characters after a decimal
    /// number are ignored.
    pub(crate) fn read(&self, text: &str) -> Option<f64> {
        match &self.style {
            Style::Letters => {
                let base = if self.case == Case::Upper { 'A' } else { 'a' };
                words::from_letters(text, base)
            }
            Style::Roman => words::from_roman(text),
            Style::Words => words::from_words(text),
            Style::Digits(pattern) => {
                let text = if self.ordinal {
                    strip_ordinal_suffix(text)
                } else {
                    text
                };
                pattern.read(text)
            }
        }
    }
}

/// Analyse a decimal digit pattern; a picture with no digit at all is a
/// numbering sequence, which is not supported (D3130).
fn digit_pattern(picture: &str) -> Result<DigitPattern, FormatError> {
    let mut zero = None;
    let (mut mandatory, mut optional, mut position) = (0, 0, 0);
    let mut separators = Vec::new();
    for c in picture.chars().rev() {
        if let Some(family) = family_of(c) {
            if zero.is_some_and(|z| z != family) {
                return Err(FormatError::new(
                    "D3131",
                    "In a decimal digit pattern, all digits must be from the same decimal group",
                ));
            }
            zero = Some(family);
            mandatory += 1;
            position += 1;
        } else if c == '#' {
            optional += 1;
            position += 1;
        } else {
            separators.push((position, c));
        }
    }
    let Some(zero) = zero else {
        return Err(FormatError::new(
            "D3130",
            format!(
                "Formatting or parsing an integer as a sequence starting with {picture} is not \
                 supported by this implementation"
            ),
        ));
    };
    Ok(DigitPattern {
        zero,
        mandatory,
        optional,
        grouping: grouping_of(separators),
        parse_width: None,
    })
}

/// Greatest common divisor.
pub(crate) fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The interval of separator positions that are every multiple of one
/// number (3, 6, 9 …), or 0 when they are not.
pub(crate) fn regular_interval(positions: &[usize]) -> usize {
    let Some(factor) = positions.iter().copied().reduce(gcd) else {
        return 0;
    };
    let all = (1..=positions.len()).all(|k| positions.contains(&(k * factor)));
    if factor > 0 && all {
        factor
    } else {
        0
    }
}

fn grouping_of(separators: Vec<(usize, char)>) -> Grouping {
    let Some(&(_, first)) = separators.first() else {
        return Grouping::Fixed(separators);
    };
    let positions: Vec<usize> = separators.iter().map(|(p, _)| *p).collect();
    let every = regular_interval(&positions);
    if every > 0 && separators.iter().all(|(_, c)| *c == first) {
        Grouping::Regular {
            every,
            separator: first,
        }
    } else {
        Grouping::Fixed(separators)
    }
}

impl DigitPattern {
    /// Digits of `magnitude` (non-negative integer), zero-padded to the
    /// mandatory width, in the pattern's family, with separators.
    pub(crate) fn format(&self, magnitude: f64) -> String {
        let ascii = format!("{:0>width$.0}", magnitude, width = self.mandatory);
        let digits: Vec<char> = ascii
            .chars()
            .map(|d| match d.to_digit(10) {
                Some(offset) => char::from_u32(self.zero + offset).unwrap_or(d),
                None => d,
            })
            .collect();
        let len = digits.len();
        // separator before the digit at each index
        let mut before: Vec<Option<char>> = vec![None; len];
        match &self.grouping {
            Grouping::Regular { every, separator } => {
                for k in (1..).map(|k| k * every).take_while(|p| *p < len) {
                    before[len - k] = Some(*separator);
                }
            }
            Grouping::Fixed(separators) => {
                for (p, c) in separators.iter().filter(|(p, _)| *p > 0 && *p < len) {
                    before[len - p] = Some(*c);
                }
            }
        }
        let mut out = String::with_capacity(len * 2);
        for (d, sep) in digits.into_iter().zip(before) {
            out.extend(sep);
            out.push(d);
        }
        out
    }

    /// Read the leading number of `text` in this pattern's family, with
    /// its separators removed.
    fn read(&self, text: &str) -> Option<f64> {
        let separators: Vec<char> = match &self.grouping {
            Grouping::Regular { separator, .. } => vec![*separator],
            Grouping::Fixed(s) => s.iter().map(|(_, c)| *c).collect(),
        };
        let cleaned: String = text
            .trim_start()
            .chars()
            .filter(|c| !separators.contains(c))
            .map(|c| match (c as u32).checked_sub(self.zero) {
                Some(d) if d < 10 => char::from(b'0' + d as u8),
                _ => c,
            })
            .collect();
        let (negative, rest) = match cleaned.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
        };
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: f64 = rest[..end].parse().ok()?;
        Some(if negative { -n } else { n })
    }
}

/// `st`, `nd`, `rd` or `th` for an integer.
fn ordinal_suffix(n: f64) -> &'static str {
    let last = n % 10.0;
    let tens = (n / 10.0).floor() % 10.0;
    if tens == 1.0 {
        return "th";
    }
    match last as u8 {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    }
}

fn strip_ordinal_suffix(text: &str) -> &str {
    ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| text.strip_suffix(s))
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(n: f64, picture: &str) -> String {
        IntegerPicture::parse(picture).unwrap().format(n)
    }

    #[test]
    fn grouping_regular_and_fixed() {
        assert_eq!(fmt(1_234_567_890.0, "#,##0"), "1,234,567,890");
        assert_eq!(fmt(1_234_567_890.0, "#:###,##0"), "1234:567,890");
        assert_eq!(fmt(1_234_567_890.0, "##,##,##0"), "12345,67,890");
        assert_eq!(fmt(12.0, "#:###,##0"), "12");
        assert_eq!(fmt(-3.0, "0000"), "-0003");
    }

    #[test]
    fn other_digit_families_and_ordinals() {
        assert_eq!(
            fmt(12340.0, "###\u{0661}"),
            "\u{661}\u{662}\u{663}\u{664}\u{660}"
        );
        assert_eq!(fmt(111.0, "0;o"), "111th");
        assert_eq!(fmt(123.0, "000;o"), "123rd");
        let err = IntegerPicture::parse("##0\u{ff10}").unwrap_err();
        assert_eq!(err.code, "D3131");
        assert_eq!(IntegerPicture::parse("#").unwrap_err().code, "D3130");
    }

    #[test]
    fn huge_numbers_in_sequences_are_written_as_digits() {
        assert_eq!(fmt(1e7, "I"), "10000000");
        assert_eq!(fmt(-1e7, "a"), "-10000000");
        assert_eq!(fmt(3999.0, "I"), "MMMCMXCIX");
    }

    #[test]
    fn reads_what_it_writes() {
        for picture in [
            "#,##0",
            "##,##,##0",
            "###\u{ff10}",
            "0;o",
            "w",
            "Ww;o",
            "A",
            "I",
        ] {
            let p = IntegerPicture::parse(picture).unwrap();
            assert_eq!(p.read(&p.format(1984.0)), Some(1984.0), "{picture}");
        }
    }
}
