//! Reading EC2's query-protocol XML answers with aws-smithy-xml: the zones, the instances' placement, an error.

use std::collections::BTreeMap;

use aws_smithy_xml::decode::{try_data, Document, ScopedDecoder, XmlDecodeError};

type Xml<T> = Result<T, XmlDecodeError>;

/// The text of each child element of `scope` named in `names`, in that order.
fn fields<const N: usize>(scope: &mut ScopedDecoder, names: [&str; N]) -> Xml<[Option<String>; N]> {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    while let Some(mut tag) = scope.next_tag() {
        if let Some(i) = names.iter().position(|n| tag.start_el().matches(n)) {
            out[i] = Some(try_data(&mut tag)?.into_owned());
        }
    }
    Ok(out)
}

/// `<Response><Errors><Error><Code>..</Code><Message>..</Message></Error></Errors></Response>`.
pub(super) fn parse_error(xml: &str) -> Xml<(Option<String>, Option<String>)> {
    let mut doc = Document::new(xml);
    let mut root = doc.root_element()?;
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        while let Some(mut error) = errors.next_tag() {
            if error.start_el().matches("Error") {
                let [code, message] = fields(&mut error, ["Code", "Message"])?;
                return Ok((code, message));
            }
        }
    }
    Ok((None, None))
}

/// `DescribeAvailabilityZonesResponse/availabilityZoneInfo/item/{zoneName, zoneId}`.
pub(super) fn parse_zones(xml: &str) -> Xml<BTreeMap<String, String>> {
    let mut zones = BTreeMap::new();
    let mut doc = Document::new(xml);
    let mut root = doc.root_element()?;
    while let Some(mut info) = root.next_tag() {
        if !info.start_el().matches("availabilityZoneInfo") {
            continue;
        }
        while let Some(mut item) = info.next_tag() {
            if let [Some(name), Some(id)] = fields(&mut item, ["zoneName", "zoneId"])? {
                zones.insert(name, id);
            }
        }
    }
    Ok(zones)
}

/// `DescribeInstancesResponse/reservationSet/item/instancesSet/item/{instanceId, placement/availabilityZone}`,
/// and the `nextToken`.
pub(super) fn parse_instances(xml: &str) -> Xml<(BTreeMap<String, String>, Option<String>)> {
    let mut zones = BTreeMap::new();
    let mut next = None;
    let mut doc = Document::new(xml);
    let mut root = doc.root_element()?;
    while let Some(mut set) = root.next_tag() {
        if set.start_el().matches("nextToken") {
            next = Some(try_data(&mut set)?.into_owned()).filter(|t| !t.is_empty());
            continue;
        }
        if !set.start_el().matches("reservationSet") {
            continue;
        }
        while let Some(mut reservation) = set.next_tag() {
            while let Some(mut instances) = reservation.next_tag() {
                if !instances.start_el().matches("instancesSet") {
                    continue;
                }
                while let Some(mut instance) = instances.next_tag() {
                    let (mut id, mut zone) = (None, None);
                    while let Some(mut field) = instance.next_tag() {
                        if field.start_el().matches("instanceId") {
                            id = Some(try_data(&mut field)?.into_owned());
                        } else if field.start_el().matches("placement") {
                            [zone] = fields(&mut field, ["availabilityZone"])?;
                        }
                    }
                    if let (Some(id), Some(zone)) = (id, zone) {
                        zones.insert(id, zone);
                    }
                }
            }
        }
    }
    Ok((zones, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_map_names_to_ids() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <availabilityZoneInfo>
    <item><zoneName>us-east-1a</zoneName><zoneState>available</zoneState><zoneId>use1-az6</zoneId>
      <messageSet/></item>
    <item><zoneName>us-east-1b</zoneName><zoneId>use1-az1</zoneId></item>
  </availabilityZoneInfo>
</DescribeAvailabilityZonesResponse>"#;
        let zones = parse_zones(xml).unwrap();
        assert_eq!(zones.get("us-east-1a").map(String::as_str), Some("use1-az6"));
        assert_eq!(zones.get("us-east-1b").map(String::as_str), Some("use1-az1"));
        assert_eq!(zones.len(), 2);
    }

    #[test]
    fn instances_give_their_placement_zone_and_the_next_token() {
        let xml = r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item><reservationId>r-1</reservationId><groupSet/>
      <instancesSet>
        <item><instanceId>i-1</instanceId><placement><availabilityZone>us-east-1a</availabilityZone>
          <tenancy>default</tenancy></placement><tagSet><item><key>a</key><value>b</value></item></tagSet></item>
        <item><instanceId>i-2</instanceId><placement><availabilityZone>us-east-1b</availabilityZone></placement></item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>page-2</nextToken>
</DescribeInstancesResponse>"#;
        let (zones, next) = parse_instances(xml).unwrap();
        assert_eq!(zones.get("i-1").map(String::as_str), Some("us-east-1a"));
        assert_eq!(zones.get("i-2").map(String::as_str), Some("us-east-1b"));
        assert_eq!(next.as_deref(), Some("page-2"));
    }

    #[test]
    fn an_error_answer_gives_its_code_and_message() {
        let xml = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.\
                   </Message></Error></Errors><RequestID>x</RequestID></Response>";
        let (code, message) = parse_error(xml).unwrap();
        assert_eq!(code.as_deref(), Some("RequestLimitExceeded"));
        assert_eq!(message.as_deref(), Some("Request limit exceeded."));
    }
}
