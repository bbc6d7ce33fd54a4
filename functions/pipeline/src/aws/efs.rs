use std::time::Duration;

use aws_sdk_efs::error::ProvideErrorMetadata;

use crate::error::{Error, Result};

pub struct Efs {
    client: aws_sdk_efs::Client,
    /// Between two looks at mount targets still being deleted, or a file system still in use.
    poll: Duration,
}

/// Looks at the mount targets at most this often: 48 × 5 s = 4 min, which with the 10 min the
/// service's tasks may take to stop stays within destroy's 15 min. More is `ChainDataBusy`, which
/// the state machine retries (destroy converges).
const MAX_POLLS: u32 = 48;

impl Efs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Efs { client: aws_sdk_efs::Client::new(config), poll: Duration::from_secs(5) }
    }

    #[cfg(test)]
    pub fn polling_every(config: &aws_config::SdkConfig, poll: Duration) -> Self {
        Efs { client: aws_sdk_efs::Client::new(config), poll }
    }

    /// Deletes a sigship-tagged file system: the stack's access point and the mount targets
    /// first, as EFS requires. Only that access point: the role may delete no other.
    pub async fn delete_managed(&self, file_system_id: &str, access_point_id: Option<&str>) -> Result<Option<String>> {
        let described = match self.client.describe_file_systems().file_system_id(file_system_id).send().await {
            Ok(found) => found,
            Err(e) if e.code() == Some("FileSystemNotFound") => return Ok(None),
            Err(e) => return Err(Error::aws("efs:DescribeFileSystems", e)),
        };
        let Some(fs) = described.file_systems().first() else { return Ok(None) };
        if !super::tagged_managed(fs.tags().iter().map(|t| (Some(t.key()), Some(t.value())))) {
            tracing::warn!(%file_system_id, "file system is not tagged sigship:managed; keeping it");
            return Ok(None);
        }
        if let Some(id) = access_point_id {
            match self.client.delete_access_point().access_point_id(id).send().await {
                Ok(_) => {}
                Err(e) if e.code() == Some("AccessPointNotFound") => {}
                Err(e) => return Err(Error::aws("efs:DeleteAccessPoint", e)),
            }
        }
        // Mount targets take minutes to go; until they have, DeleteFileSystem answers FileSystemInUse.
        let busy = |attempts| Error::ChainDataBusy { file_system_id: file_system_id.to_string(), attempts };
        let mut gone = false;
        for _ in 0..MAX_POLLS {
            let targets = self
                .client
                .describe_mount_targets()
                .file_system_id(file_system_id)
                .send()
                .await
                .map_err(|e| Error::aws("efs:DescribeMountTargets", e))?;
            if targets.mount_targets().is_empty() {
                gone = true;
                break;
            }
            for target in targets.mount_targets() {
                if target.life_cycle_state().as_str() != "deleting" {
                    let deleted =
                        self.client.delete_mount_target().mount_target_id(target.mount_target_id()).send().await;
                    match deleted {
                        // Gone between the listing and now (another destroy, the console): done.
                        Err(e) if e.code() == Some("MountTargetNotFound") => {}
                        other => other.map(|_| ()).map_err(|e| Error::aws("efs:DeleteMountTarget", e))?,
                    }
                }
            }
            tokio::time::sleep(self.poll).await;
        }
        if !gone {
            return Err(busy(MAX_POLLS));
        }
        for attempt in 1..=MAX_POLLS {
            match self.client.delete_file_system().file_system_id(file_system_id).send().await {
                Ok(_) => break,
                Err(e) if e.code() == Some("FileSystemInUse") && attempt < MAX_POLLS => {
                    tokio::time::sleep(self.poll).await
                }
                Err(e) if e.code() == Some("FileSystemInUse") => return Err(busy(attempt)),
                Err(e) => return Err(Error::aws("efs:DeleteFileSystem", e)),
            }
        }
        Ok(Some(file_system_id.to_string()))
    }
}
