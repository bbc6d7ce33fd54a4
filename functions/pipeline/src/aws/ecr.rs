use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_sdk_ecr::types::ImageIdentifier;

use crate::build::ImageRegistry;
use crate::error::{Error, Result};

pub struct Ecr {
    client: aws_sdk_ecr::Client,
    repository_name: String,
}

impl Ecr {
    pub fn new(config: &aws_config::SdkConfig, repository_name: String) -> Self {
        Ecr { client: aws_sdk_ecr::Client::new(config), repository_name }
    }

    /// Deletes every image of the repository, but only if the repository is sigship's.
    pub async fn delete_all_images(&self) -> Result<Vec<String>> {
        let repository = match self.client.describe_repositories().repository_names(&self.repository_name).send().await
        {
            Ok(found) => found.repositories().first().and_then(|r| r.repository_arn()).map(String::from),
            Err(e) if e.code() == Some("RepositoryNotFoundException") => None,
            Err(e) => return Err(Error::aws("ecr:DescribeRepositories", e)),
        };
        let Some(arn) = repository else { return Ok(Vec::new()) };
        let tags = self
            .client
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .map_err(|e| Error::aws("ecr:ListTagsForResource", e))?;
        if !super::tagged_managed(tags.tags().iter().map(|t| (Some(t.key()), Some(t.value())))) {
            tracing::warn!(repository = %self.repository_name, "repository is not tagged sigship:managed; leaving its images");
            return Ok(Vec::new());
        }
        let mut ids: Vec<ImageIdentifier> = Vec::new();
        let mut pages = self.client.list_images().repository_name(&self.repository_name).into_paginator().send();
        while let Some(page) = pages.next().await {
            ids.extend(page.map_err(|e| Error::aws("ecr:ListImages", e))?.image_ids().iter().cloned());
        }
        let mut deleted = Vec::new();
        // BatchDeleteImage takes at most 100 ids.
        for chunk in ids.chunks(100) {
            let result = self
                .client
                .batch_delete_image()
                .repository_name(&self.repository_name)
                .set_image_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| Error::aws("ecr:BatchDeleteImage", e))?;
            for id in result.image_ids() {
                let name = match (id.image_tag(), id.image_digest()) {
                    (Some(tag), Some(digest)) => format!("{}:{tag}@{digest}", self.repository_name),
                    (Some(tag), None) => format!("{}:{tag}", self.repository_name),
                    (None, digest) => format!("{}@{}", self.repository_name, digest.unwrap_or("?")),
                };
                deleted.push(name);
            }
        }
        Ok(deleted)
    }
}

impl ImageRegistry for Ecr {
    async fn digest_of(&self, image_tag: &str) -> Result<Option<String>> {
        let response = self
            .client
            .describe_images()
            .repository_name(&self.repository_name)
            .image_ids(ImageIdentifier::builder().image_tag(image_tag).build())
            .send()
            .await;
        match response {
            Ok(found) => Ok(found.image_details().first().and_then(|d| d.image_digest()).map(String::from)),
            Err(e) if e.code() == Some("ImageNotFoundException") => Ok(None),
            Err(e) => Err(Error::aws("ecr:DescribeImages", e)),
        }
    }

    async fn repository_uri(&self) -> Result<String> {
        let found = self
            .client
            .describe_repositories()
            .repository_names(&self.repository_name)
            .send()
            .await
            .map_err(|e| Error::aws("ecr:DescribeRepositories", e))?;
        found.repositories().first().and_then(|r| r.repository_uri()).map(String::from).ok_or_else(|| {
            Error::AwsAnswerIncomplete {
                operation: "ecr:DescribeRepositories",
                missing: format!("the URI of repository {}", self.repository_name),
            }
        })
    }
}
