use expect_test::expect;

use super::{Kind, Limits, Payload, check, check_invalid};

const SMS: &str = include_str!("fixtures/twilio_sms.txt");

#[test]
fn a_twilio_sms_with_two_media_becomes_the_sms_shape_with_both_urls() {
    check(
        Kind::Sms,
        &Payload::fixture(SMS),
        expect![[r#"
        provider_id: Some("MM4c2a9e0f1b3d5c7a9e0f2b4d6c8a1e3f")
        auto_submitted: false
        keys: ["sms:+14155550100:+14155550123"]
        thread: Sms {
            from: "+14155550123",
            to: "+14155550100",
        }
        context: {
          "sms": {
            "body": "Here's the damage & the receipt",
            "from": "+14155550123",
            "media": [
              {
                "contentType": "image/jpeg",
                "url": "https://api.twilio.com/2010-04-01/Accounts/AC1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d/Messages/MM4c2a9e0f1b3d5c7a9e0f2b4d6c8a1e3f/Media/ME1"
              },
              {
                "contentType": "application/pdf",
                "url": "https://api.twilio.com/2010-04-01/Accounts/AC1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d/Messages/MM4c2a9e0f1b3d5c7a9e0f2b4d6c8a1e3f/Media/ME2"
              }
            ],
            "to": "+14155550100"
          }
        }
    "#]],
    );
}

#[test]
fn malformed_twilio_posts_name_the_field() {
    let sms = Payload::fixture(SMS);
    let limits = Limits::default();
    let cases = [
        (
            sms.replace("&MessageSid=", "&MessageSidX="),
            expect!["missing field `MessageSid`"],
        ),
        (sms.replace("&From=", "&Frm="), expect!["missing field `From`"]),
        (
            sms.replace("NumMedia=2", "NumMedia=two"),
            expect!["NumMedia is not a number"],
        ),
        (
            sms.replace("NumMedia=2", "NumMedia=3"),
            expect!["missing field `MediaUrl2`"],
        ),
        (
            sms.replace("NumMedia=2", "NumMedia=21"),
            expect!["NumMedia is 21, over the limit of 20"],
        ),
        (
            sms.replace("Body=Here", "Body=Here%E"),
            expect!["form field `Body` is not valid URL encoding"],
        ),
        (
            sms.replace("Body=Here", "Body=Here%FF"),
            expect!["form field `Body` is not valid URL encoding"],
        ),
    ];
    for (payload, expect) in cases {
        check_invalid(Kind::Sms, &payload, &limits, expect);
    }
    check_invalid(
        Kind::Sms,
        &Payload::new("application/json", "{}"),
        &limits,
        expect![
            "Content-Type application/json is not application/x-www-form-urlencoded or multipart/form-data"
        ],
    );
}

#[test]
fn the_form_content_type_is_read_in_any_case_and_with_parameters() {
    let sms = Payload::fixture(SMS);
    let sms = Payload::new("Application/X-WWW-Form-Urlencoded; charset=UTF-8", sms.body);
    check_invalid(Kind::Sms, &sms, &Limits::default(), expect!["ok"]);
}
