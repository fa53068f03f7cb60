//! Date-time picture strings (F&O 3.1 §9.8.4): literal text and variable
//! markers such as `[Y0001]`, `[MNn,3-3]`, `[D1o]`, `[Z01:01t]`.

use super::integer::{Case, IntegerPicture, Style};
use super::FormatError;

/// Components that are integers (and so take an integer picture).
const INTEGER_COMPONENTS: &str = "YMDdFWwXxHhmsf";
/// Every component specifier.
const COMPONENTS: &str = "YMDdFWwXxHhmsfPZzCE";

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Part {
    Literal(String),
    Marker(Marker),
}

/// The width modifier `,min-max` (`*` for either means unbounded).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Width {
    pub min: Option<usize>,
    pub max: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Marker {
    pub component: char,
    /// Set for the name presentations `N`, `n` and `Nn`.
    pub names: Option<Case>,
    /// The integer picture for numeric presentations (and for `Z`/`z`).
    pub integer: Option<IntegerPicture>,
    /// The second presentation modifier (`t` makes a zero offset `Z`).
    pub modifier: Option<char>,
    pub width: Width,
    /// For `Y`: keep only this many low-order digits.
    pub year_digits: Option<usize>,
}

fn default_presentation(component: char) -> &'static str {
    match component {
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => "1",
    }
}

/// Split a picture into literals and markers. `[[` and `]]` stand for
/// `[` and `]`; whitespace inside a marker is ignored.
pub(crate) fn parse(picture: &str) -> Result<Vec<Part>, FormatError> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = picture;
    while let Some(c) = rest.chars().next() {
        if let Some(after) = rest.strip_prefix("[[") {
            literal.push('[');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("]]") {
            literal.push(']');
            rest = after;
        } else if c == '[' {
            let Some(close) = rest.find(']') else {
                return Err(FormatError::new(
                    "D3135",
                    "No matching closing bracket ']' in date/time picture string",
                ));
            };
            if !literal.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut literal)));
            }
            let text: String = rest[1..close]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let marker = parse_marker(&text)?;
            mark_previous_width(&mut parts, &marker);
            parts.push(Part::Marker(marker));
            rest = &rest[close + 1..];
        } else {
            literal.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal));
    }
    Ok(parts)
}

/// A number directly after another number: the first must be read with
/// its exact width.
fn mark_previous_width(parts: &mut [Part], marker: &Marker) {
    if !INTEGER_COMPONENTS.contains(marker.component) || marker.integer.is_none() {
        return;
    }
    if let Some(Part::Marker(previous)) = parts.last_mut() {
        if let Some(IntegerPicture {
            style: Style::Digits(d),
            ..
        }) = previous.integer.as_mut()
        {
            d.parse_width = Some(d.mandatory);
        }
    }
}

fn parse_width(text: &str) -> Option<usize> {
    match text {
        "*" | "" => None,
        _ => {
            let end = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            text[..end].parse().ok()
        }
    }
}

fn unknown_component(component: &str) -> FormatError {
    FormatError::new(
        "D3132",
        format!("Unknown component specifier {component} in date/time picture string"),
    )
}

fn parse_marker(text: &str) -> Result<Marker, FormatError> {
    let Some(component) = text.chars().next().filter(|c| COMPONENTS.contains(*c)) else {
        return Err(unknown_component(text.get(..1).unwrap_or("")));
    };
    let body = &text[component.len_utf8()..];
    let (presentation, width) = match body.rfind(',') {
        Some(comma) => {
            let spec = &body[comma + 1..];
            let (min, max) = spec.split_once('-').unwrap_or((spec, ""));
            let width = Width {
                min: parse_width(min),
                max: parse_width(max),
            };
            (&body[..comma], width)
        }
        None => (body, Width::default()),
    };
    let (first, modifier) = split_presentation(presentation, component);
    let names = if first.starts_with('n') {
        Some(Case::Lower)
    } else if first.starts_with("Nn") {
        Some(Case::Title)
    } else if first.starts_with('N') {
        Some(Case::Upper)
    } else {
        None
    };
    let mut marker = Marker {
        component,
        names,
        integer: None,
        modifier,
        width,
        year_digits: None,
    };
    if names.is_none() && INTEGER_COMPONENTS.contains(component) {
        let picture = match modifier {
            Some(m) => format!("{first};{m}"),
            None => first.to_string(),
        };
        marker.integer = Some(integer_picture(&picture, component, &mut marker)?);
    } else if names.is_none() && (component == 'Z' || component == 'z') {
        marker.integer = Some(IntegerPicture::parse(first)?);
    }
    Ok(marker)
}

/// The first presentation modifier and the second (`a`, `t`, `c`, `o`).
fn split_presentation(presentation: &str, component: char) -> (&str, Option<char>) {
    if presentation.is_empty() {
        return (default_presentation(component), None);
    }
    match presentation.chars().last() {
        Some(last) if presentation.chars().count() > 1 && "atco".contains(last) => {
            (&presentation[..presentation.len() - 1], Some(last))
        }
        _ => (presentation, None),
    }
}

/// The integer picture of a numeric component, widened by the width
/// modifier; for the year also how many digits to keep (§9.8.4.4).
fn integer_picture(
    picture: &str,
    component: char,
    marker: &mut Marker,
) -> Result<IntegerPicture, FormatError> {
    let mut integer = IntegerPicture::parse(picture)?;
    let width = marker.width;
    let digits = match &mut integer.style {
        Style::Digits(d) => Some(d),
        _ => None,
    };
    if component == 'Y' {
        if let Some(max) = width.max {
            marker.year_digits = Some(max);
            if let Some(d) = digits {
                d.mandatory = max;
            }
            return Ok(integer);
        }
    }
    if let Some(d) = digits {
        if let Some(min) = width.min {
            d.mandatory = d.mandatory.max(min);
        }
        let total = d.mandatory + d.optional;
        if component == 'Y' && total >= 2 {
            marker.year_digits = Some(total);
        }
    }
    Ok(integer)
}

/// A `name` presentation on a component that has no names (D3133);
/// `named` lists the components that have them.
pub(crate) fn check_names(parts: &[Part], named: &str) -> Result<(), FormatError> {
    for part in parts {
        if let Part::Marker(m) = part {
            if m.names.is_some() && !named.contains(m.component) {
                return Err(FormatError::new(
                    "D3133",
                    format!(
                        "The 'name' modifier can only be applied to months and days in the \
                         date/time picture string, not {}",
                        m.component
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(text: &str) -> Marker {
        match parse(text).unwrap().pop() {
            Some(Part::Marker(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn brackets_doubled_are_literal() {
        let parts = parse("[[Year]]: [[[Y0001]]]").unwrap();
        assert_eq!(parts[0], Part::Literal("[Year]: [".into()));
        assert_eq!(parts[2], Part::Literal("]".into()));
        assert_eq!(parse("[Y").unwrap_err().code, "D3135");
        assert_eq!(parse("[q]").unwrap_err().code, "D3132");
    }

    #[test]
    fn modifiers_and_widths() {
        let m = marker("[ F N n , 3 - 3 ]");
        assert_eq!((m.component, m.names), ('F', Some(Case::Title)));
        assert_eq!(m.width.max, Some(3));
        let m = marker("[D1o]");
        assert!(m.integer.unwrap().ordinal);
        assert_eq!(marker("[Y,2]").year_digits, Some(2));
        assert_eq!(marker("[Y0001,2-2]").year_digits, Some(2));
        assert_eq!(marker("[Y0001]").year_digits, Some(4));
        assert_eq!(marker("[Y]").year_digits, None);
        assert_eq!(marker("[Z01:01t]").modifier, Some('t'));
    }

    #[test]
    fn adjacent_numbers_get_a_parse_width() {
        let parts = parse("[Y0001][M01]").unwrap();
        let Part::Marker(year) = &parts[0] else {
            panic!()
        };
        let digits = year.integer.as_ref().and_then(|i| i.digits()).unwrap();
        assert_eq!(digits.parse_width, Some(4));
    }
}
