//! `/users`, `/users/{id}`, `/users/delta`.

use super::{Ctx, Resp, View};
use crate::delta::{self, Collection, Listed};
use crate::error::{GResult, GraphError};
use crate::store::{Tenant, User};
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// Properties Graph returns for a user without `$select`.
const DEFAULT_PROPS: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

pub(crate) fn route(ctx: &mut Ctx<'_>, s: &[&str]) -> GResult<Resp> {
    let m = ctx.req.method.clone();
    match (s, m) {
        (["users"], Method::GET) => list(ctx),
        (["users", "delta"], Method::GET) => delta(ctx),
        (["users", _], Method::GET) => {
            let key = ctx.req.segs[1].clone();
            let i = ctx.user(&key)?;
            let view = ctx.req.view();
            let mut v = render(&ctx.t.users[i], &view);
            v["@odata.context"] = json!(ctx.context("users/$entity"));
            Ok(Resp::ok(v))
        }
        (["users"] | ["users", "delta"] | ["users", _], _) => Err(GraphError::method_not_allowed()),
        _ => Err(GraphError::no_route(ctx.req.method.as_str(), &ctx.req.path)),
    }
}

pub(crate) fn render(u: &User, view: &View) -> Value {
    let mut proxy = Vec::new();
    if let Some(m) = &u.mail {
        proxy.push(format!("SMTP:{m}"));
        if u.user_type == "Member" {
            let local = m.split('@').next().unwrap_or_default();
            proxy.push(format!("smtp:{local}@contoso.onmicrosoft.example"));
        }
    }
    let full = json!({
        "id": u.id,
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": u.given_name,
        "jobTitle": u.job_title,
        "mail": u.mail,
        "mobilePhone": u.mobile_phone,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "surname": u.surname,
        "userPrincipalName": u.upn,
        "accountEnabled": u.account_enabled,
        "userType": u.user_type,
        "mailNickname": u.upn.split('@').next().unwrap_or_default(),
        "proxyAddresses": proxy,
        "otherMails": [],
        "assignedLicenses": if u.has_mailbox() { json!([{"disabledPlans": [], "skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900"}]) } else { json!([]) },
    });
    if view.select.is_some() {
        return view.apply_select(full);
    }
    match full {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| DEFAULT_PROPS.contains(&k.as_str()))
                .collect(),
        ),
        other => other,
    }
}

fn list(ctx: &mut Ctx<'_>) -> GResult<Resp> {
    let view = ctx.req.view();
    let filter = ctx.req.filter()?;
    // A filter naming users by address or id (the connector's lookups) only needs to be
    // evaluated on the users the index finds for those names, not on every user.
    let mut names = Vec::new();
    let narrowed: Option<Vec<usize>> =
        filter
            .as_ref()
            .filter(|f| lookup_names(f, &mut names))
            .map(|_| {
                let mut at: Vec<usize> = names.iter().flat_map(|n| ctx.t.users_named(n)).collect();
                at.sort_unstable();
                at.dedup();
                at
            });
    let all: Vec<&User> = match &narrowed {
        Some(at) => at.iter().map(|&i| &ctx.t.users[i]).collect(),
        None => ctx.t.users.iter().collect(),
    };
    let items: Vec<Value> = all
        .into_iter()
        .filter(|u| !u.deleted)
        .filter(|u| {
            // filter on the full representation, whatever is selected
            filter
                .as_ref()
                .is_none_or(|f| crate::filter::eval(f, &full(u)))
        })
        .map(|u| render(u, &view))
        .collect();
    let size = ctx
        .req
        .top()?
        .or(ctx.req.prefer.maxpagesize)
        .unwrap_or(100)
        .clamp(1, 999);
    let offset = match ctx.req.q("skiptoken") {
        None => 0,
        Some(t) => decode_skip(t)
            .ok_or_else(|| GraphError::bad_request("Request_BadRequest", "Invalid skiptoken."))?,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let mut body = json!({"@odata.context": ctx.context("users"), "value": page});
    if offset + size < total {
        let mut q: Vec<(String, String)> = ctx
            .req
            .query
            .iter()
            .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken"))
            .cloned()
            .collect();
        q.push(("$skiptoken".into(), encode_skip(offset + size)));
        body["@odata.nextLink"] = json!(ctx.link(&ctx.req.path, &q));
    }
    Ok(Resp::ok(body))
}

/// Collects the names a filter is made of when it is a disjunction of `mail eq '…'`,
/// `userPrincipalName eq '…'`, `id eq '…'` and `proxyAddresses/any(p: p eq 'smtp:…')`: every
/// user it matches is among `Tenant::users_named` of one of them. `false` for any other shape.
fn lookup_names(e: &crate::filter::Expr, out: &mut Vec<String>) -> bool {
    use crate::filter::{Expr, Op, Operand};
    let eq_lit = |a: &Operand, b: &Operand| -> Option<(Vec<String>, String)> {
        match (a, b) {
            (Operand::Path(p), Operand::Lit(Value::String(v)))
            | (Operand::Lit(Value::String(v)), Operand::Path(p)) => Some((p.clone(), v.clone())),
            _ => None,
        }
    };
    match e {
        Expr::Or(a, b) => lookup_names(a, out) && lookup_names(b, out),
        Expr::Cmp(Op::Eq, a, b) => match eq_lit(a, b) {
            Some((p, v))
                if p.len() == 1
                    && ["mail", "userPrincipalName", "id"]
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(&p[0])) =>
            {
                out.push(v);
                true
            }
            _ => false,
        },
        Expr::Lambda {
            any: true,
            path,
            var,
            body,
        } if path.len() == 1 && path[0].eq_ignore_ascii_case("proxyAddresses") => match &**body {
            Expr::Cmp(Op::Eq, a, b) => match eq_lit(a, b) {
                Some((p, v)) if p.len() == 1 && p[0] == *var => {
                    let addr = v
                        .split_once(':')
                        .filter(|(t, _)| t.eq_ignore_ascii_case("smtp"))
                        .map_or(v.as_str(), |(_, a)| a);
                    out.push(addr.to_owned());
                    true
                }
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

fn full(u: &User) -> Value {
    render(
        u,
        &View {
            select: Some(
                DEFAULT_PROPS
                    .iter()
                    .chain(["accountEnabled", "userType", "proxyAddresses"].iter())
                    .map(|s| (*s).to_owned())
                    .collect(),
            ),
            ..Default::default()
        },
    )
}

fn encode_skip(offset: usize) -> String {
    format!(
        "RFNwdAIAAQAA{}",
        URL_SAFE_NO_PAD.encode(format!("User_{offset}"))
    )
}

fn decode_skip(t: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD
        .decode(t.strip_prefix("RFNwdAIAAQAA")?)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("User_")?
        .parse()
        .ok()
}

fn delta(ctx: &mut Ctx<'_>) -> GResult<Resp> {
    let list = |t: &Tenant| -> Vec<Listed> {
        t.users
            .iter()
            .filter(|u| !u.deleted)
            .map(|u| Listed {
                key: u.id.clone(),
                imm: u.id.clone(),
                rest: u.id.clone(),
                fp: u.seq,
            })
            .collect()
    };
    let render_one = |t: &Tenant, l: &Listed, view: &View| -> Option<Value> {
        t.users
            .iter()
            .find(|u| u.id == l.key && !u.deleted)
            .map(|u| render(u, view))
    };
    let mut initial = Vec::new();
    if let Some(sel) = ctx.req.q("select") {
        initial.push(("$select".to_owned(), sel.to_owned()));
    }
    delta::run(
        ctx,
        Collection {
            scope: "users".to_owned(),
            odata_type: "#microsoft.graph.user",
            default_page: 100,
            max_page: 999,
            directory: true,
            list: &list,
            render: &render_one,
            initial_query: initial,
        },
    )
}
