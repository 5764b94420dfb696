//! The sync folder, resolved once and kept.
//!
//! Resolving a path such as `/Inbox/crm` costs Graph a request per segment; doing it every
//! cycle made folder lookups most of an idle tenant's traffic. The id is kept in the store
//! (`resolved_names`, per mailbox and kind) and used until Graph answers 404 for it (the
//! folder was deleted or moved away): then it is forgotten and the next run resolves the
//! path again. The cursor's scope is the folder id, so a re-created folder starts a round of
//! its own.
//!
//! The success and failure subfolders are kept the same way ([`sub_folder`]): a run that files
//! one new message would otherwise list the sync folder's children for its move, a quarter of
//! its Graph requests. Their key names the sync folder's id, so a new sync folder has
//! subfolders of its own. A run reads the kept ids with the rest of what is kept for its
//! mailbox and kind, in one statement ([`Kept`]). A run that has to look one up lists the
//! sync folder's children once ([`Children`]): the other subfolder, needed in the same run
//! (a first sync files some messages and fails others), is found in the same listing.

use gc_store::{Kind, StateStore};
use tokio::sync::OnceCell;

use crate::engine::kept::Kept;
use crate::error::{ErrorClass, PortError, store_error};
use crate::ports::{FolderRef, MailGraph};

/// The store's name for the sync folder path `path`.
pub fn folder_key(path: &str) -> String {
    format!(
        "folder:{}",
        path.trim().trim_end_matches('/').to_lowercase()
    )
}

/// The sync folder of `mailbox`: the kept id, or resolved (and created when `create`) through
/// Graph and kept (unless `planning`: then nothing is created or kept). `None` when it does
/// not exist and is not to be created.
pub async fn sync_folder(
    graph: &dyn MailGraph,
    (store, kept): (&dyn StateStore, &Kept),
    mailbox: &str,
    user: &str,
    path: &str,
    create: bool,
    planning: bool,
) -> Result<Option<FolderRef>, PortError> {
    let key = folder_key(path);
    if let Some(id) = kept.get(&key) {
        return Ok(Some(FolderRef {
            id: id.to_owned(),
            name: path.to_owned(),
            total: None,
        }));
    }
    let Some(folder) = graph.folder(user, path, create && !planning).await? else {
        return Ok(None);
    };
    if planning {
        return Ok(Some(folder));
    }
    store
        .put_resolved(mailbox, Kind::Email, &key, Some(&folder.id))
        .await
        .map_err(store_error)?;
    Ok(Some(folder))
}

/// A subfolder of the sync folder as a run found it.
#[derive(Debug, Clone)]
pub struct SubFolder {
    pub folder: FolderRef,
    /// The id came from the store, not from Graph in this run: a 404 for it may mean the
    /// folder is gone (see [`forget_sub_folder`]).
    pub kept: bool,
}

/// The store's name for subfolder `name` of the sync folder `sync_folder_id`.
fn sub_folder_key(sync_folder_id: &str, name: &str) -> String {
    format!("subfolder:{sync_folder_id}:{}", name.trim().to_lowercase())
}

/// The sync folder's children as a run listed them, at most once per run.
pub type Children = OnceCell<Vec<FolderRef>>;

/// Subfolder `name` of the sync folder: the kept id, or found in the run's listing of the
/// sync folder's children (`children`, listed on first use), created when missing, and kept.
pub async fn sub_folder(
    graph: &dyn MailGraph,
    (store, kept): (&dyn StateStore, &Kept),
    (mailbox, user): (&str, &str),
    (sync_folder_id, children): (&str, &Children),
    name: &str,
) -> Result<SubFolder, PortError> {
    let key = sub_folder_key(sync_folder_id, name);
    if let Some(id) = kept.get(&key) {
        return Ok(SubFolder {
            folder: FolderRef {
                id: id.to_owned(),
                name: name.to_owned(),
                total: None,
            },
            kept: true,
        });
    }
    let listed = children
        .get_or_try_init(|| graph.child_folders(user, sync_folder_id))
        .await?;
    let found = listed
        .iter()
        .find(|f| f.name.trim().eq_ignore_ascii_case(name.trim()));
    let folder = match found {
        Some(f) => f.clone(),
        None => {
            graph
                .create_child_folder(user, sync_folder_id, name)
                .await?
        }
    };
    store
        .put_resolved(mailbox, Kind::Email, &key, Some(&folder.id))
        .await
        .map_err(store_error)?;
    Ok(SubFolder {
        folder,
        kept: false,
    })
}

/// After a move to a kept subfolder id answered 404: the message or the folder is gone, and
/// Graph's answer does not say which. The id is forgotten and the item delayed; the next run
/// finds (or makes) the folder again, and a 404 then means the message is gone.
pub async fn forget_sub_folder(
    store: &dyn StateStore,
    mailbox: &str,
    sync_folder_id: &str,
    name: &str,
    e: PortError,
) -> PortError {
    forget(
        store,
        mailbox,
        &sub_folder_key(sync_folder_id, name),
        &format!("folder {name}"),
        e,
    )
    .await
}

/// After Graph answered 404 for the kept folder id: forget it, and say the run is to be
/// repeated (the next one resolves the path again); other errors pass unchanged.
pub async fn forget_on_not_found(
    store: &dyn StateStore,
    mailbox: &str,
    path: &str,
    e: PortError,
) -> PortError {
    if e.class != ErrorClass::NotFound {
        return e;
    }
    forget(
        store,
        mailbox,
        &folder_key(path),
        &format!("sync folder {path}"),
        e,
    )
    .await
}

/// Forget the kept id under `key` after Graph answered 404 for it; the run is to be repeated.
async fn forget(
    store: &dyn StateStore,
    mailbox: &str,
    key: &str,
    what: &str,
    e: PortError,
) -> PortError {
    if let Err(s) = store.put_resolved(mailbox, Kind::Email, key, None).await {
        return store_error(s);
    }
    PortError::transient(format!(
        "the {what} is not where it was ({}); it is looked up again on the next run",
        e.message
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_does_not_depend_on_case_or_a_trailing_slash() {
        assert_eq!(folder_key("/Inbox/CRM/"), folder_key("/inbox/crm"));
        assert_ne!(folder_key("/Inbox/crm"), folder_key("/Inbox/crm2"));
    }
}
