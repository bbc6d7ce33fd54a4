use std::time::Duration;

use aws_sdk_efs::error::ProvideErrorMetadata;

use crate::error::{Error, Result};

pub struct Efs {
    client: aws_sdk_efs::Client,
}

impl Efs {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Efs { client: aws_sdk_efs::Client::new(config) }
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
        for _ in 0..60 {
            let targets = self
                .client
                .describe_mount_targets()
                .file_system_id(file_system_id)
                .send()
                .await
                .map_err(|e| Error::aws("efs:DescribeMountTargets", e))?;
            if targets.mount_targets().is_empty() {
                break;
            }
            for target in targets.mount_targets() {
                if target.life_cycle_state().as_str() != "deleting" {
                    self.client
                        .delete_mount_target()
                        .mount_target_id(target.mount_target_id())
                        .send()
                        .await
                        .map_err(|e| Error::aws("efs:DeleteMountTarget", e))?;
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        self.client
            .delete_file_system()
            .file_system_id(file_system_id)
            .send()
            .await
            .map_err(|e| Error::aws("efs:DeleteFileSystem", e))?;
        Ok(Some(file_system_id.to_string()))
    }
}
