"""moto_server, with fixes for moto bugs sigship's CloudFormation template runs into.

Each patch makes moto do what AWS documents; none changes what sigship's code sees from AWS.
"""
import json
import sys

from moto.stepfunctions.utils import cfn_to_api_tags
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation.parsing import ResourceMap
from moto.core.common_models import CloudFormationModel
from moto.ec2.models import ec2_backends
from moto.ec2.models.internet_gateways import InternetGateway
from moto.ec2.models.route_tables import Route, RouteTable
from moto.ec2.models.subnets import SubnetRouteTableAssociation
from moto.ec2.models.vpn_gateway import VPCGatewayAttachment
from moto.ecs.models import Cluster, ecs_backends
from moto.efs.models import AccessPoint
from moto.s3.models import s3_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.responses import get_backend as step_functions_backend

# AWS: `Ref` of an AWS::EFS::AccessPoint returns its id (fsap-...). moto 5.2.5 has no
# physical_resource_id for it, so the Ref yields the model object, which then breaks every
# Lambda API call that serialises a function whose environment holds it.
AccessPoint.physical_resource_id = property(lambda self: self.access_point_id)

# AWS converts CloudFormation's string properties to the API's types; moto 5.2.5 stores the
# access point's uid/gid strings as given and returns them as JSON strings, which SDKs reject.
_create_access_point = AccessPoint.create_from_cloudformation_json.__func__


def _access_point_with_numeric_ids(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    user = props.get("PosixUser", {})
    for key in ("Uid", "Gid"):
        if key in user:
            user[key] = int(user[key])
    if "SecondaryGids" in user:
        user["SecondaryGids"] = [int(gid) for gid in user["SecondaryGids"]]
    creation = props.get("RootDirectory", {}).get("CreationInfo", {})
    for key in ("OwnerUid", "OwnerGid"):
        if key in creation:
            creation[key] = int(creation[key])
    return _create_access_point(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


AccessPoint.create_from_cloudformation_json = classmethod(_access_point_with_numeric_ids)


# AWS::StepFunctions::StateMachine: moto 5.2.5 reads only DefinitionString (not Definition,
# DefinitionS3Location or DefinitionSubstitutions), and creates the machine in the backend
# without execution support even when `execute_state_machine` is on, so the API never sees it.
def _definition(props, account_id):
    if "DefinitionString" in props:
        text = props["DefinitionString"]
    elif "Definition" in props:
        text = json.dumps(props["Definition"])
    elif "DefinitionS3Location" in props:
        location = props["DefinitionS3Location"]
        text = s3_backends[account_id]["aws"].get_object(location["Bucket"], location["Key"]).value.decode()
    else:
        text = ""
    for key, value in props.get("DefinitionSubstitutions", {}).items():
        text = text.replace("${" + key + "}", str(value))
    return text


def _create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = cloudformation_json["Properties"]
    return step_functions_backend(account_id, region_name).create_state_machine(
        props.get("StateMachineName", resource_name),
        _definition(props, account_id),
        props.get("RoleArn", ""),
        tags=cfn_to_api_tags(props.get("Tags", [])),
    )


def _delete(cls, resource_name, cloudformation_json, account_id, region_name):
    step_functions_backend(account_id, region_name).delete_state_machine(resource_name)


def _update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name):
    props = cloudformation_json.get("Properties", {})
    backend = step_functions_backend(account_id, region_name)
    if props.get("StateMachineName", original_resource.name) != original_resource.name:
        replacement = _create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return replacement
    return backend.update_state_machine(
        original_resource.arn, definition=_definition(props, account_id), role_arn=props.get("RoleArn")
    )


StateMachine.create_from_cloudformation_json = classmethod(_create)
StateMachine.delete_from_cloudformation_json = classmethod(_delete)
StateMachine.update_from_cloudformation_json = classmethod(_update)

# AWS: deleting a stack whose resource is already gone (sigship's destroy deletes the chain data
# file system, its mount targets and access point) counts that resource as deleted. moto 5.2.5
# stops the stack deletion on the NotFound error instead.
_delete_resource = ResourceMap._delete_resource


def _delete_resource_gone_counts_as_deleted(self, parsed_resource, resource_json):
    try:
        _delete_resource(self, parsed_resource, resource_json)
    except Exception as error:
        # moto's JSON services say 404 or ...NotFound in error_type; EC2 says ...NotFound in code.
        code, error_type = getattr(error, "code", None), getattr(error, "error_type", "")
        if code != 404 and "NotFound" not in str(code) and "NotFound" not in str(error_type):
            raise


ResourceMap._delete_resource = _delete_resource_gone_counts_as_deleted


# AWS deletes every networking resource of a stack; moto 5.2.5 cannot delete these through
# CloudFormation, so the stack's VPC stays "in use" and the stack deletion fails.
def _ec2(account_id, region_name):
    return ec2_backends[account_id][region_name]


def _detach_gateway(self, account_id, region_name):
    if self.gateway_id and self.gateway_id.startswith("igw-"):
        _ec2(account_id, region_name).detach_internet_gateway(self.gateway_id, self.vpc_id)


def _forget_subnet_association(self, account_id, region_name):
    _ec2(account_id, region_name).subnet_associations.pop(f"{self.route_table_id}:{self.subnet_id}", None)


VPCGatewayAttachment.delete = _detach_gateway
InternetGateway.delete = lambda self, account_id, region_name: _ec2(account_id, region_name).delete_internet_gateway(self.id)
SubnetRouteTableAssociation.delete = _forget_subnet_association
RouteTable.delete = lambda self, account_id, region_name: _ec2(account_id, region_name).delete_route_table(self.id)
Route.delete = lambda self, account_id, region_name: _ec2(account_id, region_name).delete_route(
    self.route_table.id, self.destination_cidr_block
)

# AWS deletes (deactivates) the stack's ECS cluster; moto 5.2.5 leaves it ACTIVE.
Cluster.delete = lambda self, account_id, region_name: ecs_backends[account_id][region_name].delete_cluster(self.name)


# AWS::Lambda::Url: moto 5.2.5 has Function URLs in its Lambda API but not in CloudFormation,
# which skips the resource, and `Fn::GetAtt ... FunctionUrl` then fails the whole stack.
class FunctionUrl(CloudFormationModel):
    # moto files every model under the service its module names.
    __module__ = "moto.awslambda.models"

    def __init__(self, function_arn, url):
        self.function_arn = function_arn
        self.url = url

    @staticmethod
    def cloudformation_type():
        return "AWS::Lambda::Url"

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.function_arn

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in ("FunctionUrl", "FunctionArn")

    def get_cfn_attribute(self, attribute_name):
        return self.url if attribute_name == "FunctionUrl" else self.function_arn

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = cloudformation_json["Properties"]
        config = {key: props[key] for key in ("AuthType", "Cors", "InvokeMode") if key in props}
        created = lambda_backend(account_id, region_name).create_function_url_config(props["TargetFunctionArn"], config)
        return cls(props["TargetFunctionArn"], created.url)

    def delete(self, account_id, region_name):
        lambda_backend(account_id, region_name).delete_function_url_config(self.function_arn)

from moto.server import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
