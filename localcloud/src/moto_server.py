"""moto_server, with fixes for moto bugs sigship's CloudFormation template runs into.

Each patch makes moto do what AWS documents; none changes what sigship's code sees from AWS.
"""
import json
import os
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


# AWS reads an S3 object at the version a template, a Lambda function's code or a stack's
# TemplateURL names (sigship up pins every artifact so); moto 5.2.5 reads the newest version and
# ignores the one named. A version that does not exist is an error, as in AWS.
def _object_at_version(account_id, bucket, key, version):
    found = s3_backends[account_id]["aws"].get_object(bucket, key, version_id=version or None)
    if found is None:
        raise ValueError(f"s3://{bucket}/{key} has no version {version}")
    return found.value


import moto.awslambda.models as _lambda_models  # noqa: E402
import moto.cloudformation.models as _cloudformation_models  # noqa: E402
import moto.cloudformation.responses as _cloudformation_responses  # noqa: E402
from urllib.parse import parse_qs, urlparse  # noqa: E402

_validate_code_location = _lambda_models._validate_s3_bucket_and_key


def _code_at_its_version(account_id, partition, data):
    if data.get("S3ObjectVersion"):
        return s3_backends[account_id][partition].get_object(
            data["S3Bucket"], data["S3Key"], version_id=data["S3ObjectVersion"]
        )
    return _validate_code_location(account_id, partition, data)


_lambda_models._validate_s3_bucket_and_key = _code_at_its_version
_template_from_url = _cloudformation_responses.get_stack_from_s3_url


def _template_at_its_version(template_url, account_id, partition):
    url = urlparse(template_url)
    version = parse_qs(url.query).get("versionId", [None])[0]
    if version is None:
        return _template_from_url(template_url, account_id=account_id, partition=partition)
    if "localhost" in template_url or url.netloc.startswith("s3"):  # path style, as moto reads it
        bucket, key = url.path.lstrip("/").split("/", 1)
    else:  # virtual-hosted style: <bucket>.s3.<region>.amazonaws.com/<key>
        bucket, key = url.netloc.split(".")[0], url.path.lstrip("/")
    return _object_at_version(account_id, bucket, key, version).decode("utf-8")


_cloudformation_responses.get_stack_from_s3_url = _template_at_its_version
_cloudformation_models.get_stack_from_s3_url = _template_at_its_version


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
        text = _object_at_version(account_id, location["Bucket"], location["Key"], location.get("Version")).decode()
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


# AWS: `Ref` of a Number parameter is a string, and Lambda environment values are strings.
# moto 5.2.5 resolves Number parameters to ints and stores them in the function's environment
# as JSON numbers, which SDKs refuse to read.
from moto.awslambda.models import LambdaFunction  # noqa: E402


def _string_environment(wrapped):
    def create_or_update(cls, *args, **kwargs):
        cloudformation_json = next(a for a in args if isinstance(a, dict) and "Properties" in a)
        variables = cloudformation_json["Properties"].get("Environment", {}).get("Variables", {})
        for key, value in variables.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                variables[key] = str(value)
        return wrapped(cls, *args, **kwargs)

    return classmethod(create_or_update)


LambdaFunction.create_from_cloudformation_json = _string_environment(LambdaFunction.create_from_cloudformation_json.__func__)
LambdaFunction.update_from_cloudformation_json = _string_environment(LambdaFunction.update_from_cloudformation_json.__func__)


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



class _SkippedByMoto:
    """Mixin for the stack resources moto 5.2.5's CloudFormation skips silently; each subclass creates
    its resource through moto's own API backend, as CloudFormation does in AWS."""

    def __init__(self, physical_id, attributes):
        self.physical_id = physical_id
        self.attributes = attributes

    @staticmethod
    def cloudformation_name_type():
        return ""

    @property
    def physical_resource_id(self):
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr):
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, attribute_name):
        return self.attributes[attribute_name]


def _generated_name(resource_name):
    # AWS names an unnamed resource <logical id>-<12 random characters>.
    import random
    import string

    return f"{resource_name}-" + "".join(random.choices(string.ascii_letters + string.digits, k=12))


def _camel(value):
    """CloudFormation's PascalCase properties as the API's camelCase members, all the way down."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


# AWS::CodeBuild::Project (trigger-build starts builds of it). moto's API keeps camelCase keys.
class BuildProject(_SkippedByMoto, CloudFormationModel):
    __module__ = "moto.codebuild.models"
    ATTRIBUTES = ("Arn",)

    @staticmethod
    def cloudformation_type():
        return "AWS::CodeBuild::Project"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.codebuild.models import codebuild_backends

        props = cloudformation_json["Properties"]
        environment = _camel(props["Environment"])
        name = props.get("Name") or _generated_name(resource_name)
        codebuild_backends[account_id][region_name].create_project(
            name, props.get("Description"), _camel(props["Source"]), _camel(props["Artifacts"]), environment,
            props["ServiceRole"], None, None, props.get("TimeoutInMinutes"), None, None,
            _camel(props.get("LogsConfig", {})), None,
        )
        # moto's create_project takes no secondary sources; BatchGetProjects answers them.
        metadata = codebuild_backends[account_id][region_name].codebuild_projects[name].project_metadata
        metadata["secondarySources"] = _camel(props.get("SecondarySources", []))
        metadata["secondarySourceVersions"] = _camel(props.get("SecondarySourceVersions", []))
        arn = f"arn:aws:codebuild:{region_name}:{account_id}:project/{name}"
        return cls(name, {"Arn": arn})

    def delete(self, account_id, region_name):
        from moto.codebuild.models import codebuild_backends

        codebuild_backends[account_id][region_name].delete_project(self.physical_id)


# AWS::SecretsManager::Secret with GenerateSecretString (the RPC credentials, the webhook secret).
class GeneratedSecret(_SkippedByMoto, CloudFormationModel):
    __module__ = "moto.secretsmanager.models"
    ATTRIBUTES = ("Id",)

    @staticmethod
    def cloudformation_type():
        return "AWS::SecretsManager::Secret"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        from moto.secretsmanager.models import secretsmanager_backends

        props = cloudformation_json["Properties"]
        backend = secretsmanager_backends[account_id][region_name]
        value = props.get("SecretString")
        generate = props.get("GenerateSecretString")
        if generate is not None:
            password = backend.get_random_password(
                int(generate.get("PasswordLength", 32)), generate.get("ExcludeCharacters", ""),
                bool(generate.get("ExcludeNumbers")), bool(generate.get("ExcludePunctuation")),
                bool(generate.get("ExcludeUppercase")), bool(generate.get("ExcludeLowercase")),
                bool(generate.get("IncludeSpace")), bool(generate.get("RequireEachIncludedType", True)),
            )
            password = json.loads(password)["RandomPassword"] if password.startswith("{") else password
            if "SecretStringTemplate" in generate:
                document = json.loads(generate["SecretStringTemplate"])
                document[generate["GenerateStringKey"]] = password
                value = json.dumps(document)
            else:
                value = password
        name = props.get("Name") or _generated_name(resource_name)
        backend.create_secret(name, value, None, props.get("Description"), None, None, None, [], False)
        arn = backend.describe_secret(name).arn
        return cls(str(arn), {"Id": str(arn)})

    def delete(self, account_id, region_name):
        from moto.secretsmanager.models import secretsmanager_backends

        secretsmanager_backends[account_id][region_name].delete_secret(self.physical_id, None, True)


# IAM enforcement (on once the local cloud's stack is up). moto 5.2.5 authorizes most services
# against the resource "*", since it does not work out which resource a call acts on; a statement
# naming an ARN then never matches and every scoped Allow would deny. moto judges actions here,
# and S3 requests, which do carry their bucket and key, still by resource. Resources and
# conditions are checked against AWS's rules by the permission contract test.
from moto.iam.access_control import IAMPolicyStatement  # noqa: E402

_element_matches = IAMPolicyStatement._check_element_matches


def _resource_unknown_to_moto_matches(self, statement_element, value):
    if statement_element == "Resource" and value == "*":
        return True
    return _element_matches(self, statement_element, value)


IAMPolicyStatement._check_element_matches = _resource_unknown_to_moto_matches

# A role's inline policies created by CloudFormation are stored as documents (dicts), which
# moto 5.2.5's policy evaluation mistakes for a user policy record and fails on with a 500.
from moto.iam.access_control import IAMPolicy  # noqa: E402

_policy_init = IAMPolicy.__init__


def _policy_from_document_too(self, policy):
    if isinstance(policy, dict) and "Statement" in policy:
        policy = json.dumps(policy)
    _policy_init(self, policy)


IAMPolicy.__init__ = _policy_from_document_too

# moto 5.2.5 recomputes a request's signature over the wrong request for REST APIs such as
# Lambda's and EFS's: a bodiless GET or DELETE gets the request's headers as its payload, and the path loses its
# trailing slash. AWS signs what was sent: an empty payload, the path as requested.
from moto.iam.access_control import IAMRequestBase  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402


def _request_as_sent(self):
    signed_headers = self._get_string_between("SignedHeaders=", ",", self._headers["Authorization"]).split(";")
    headers = self._create_headers_for_aws_request(signed_headers, self._headers)
    # A form POST's body was consumed into its parameters; other bodiless requests (GET, DELETE)
    # signed an empty payload.
    payload = self._body or (self._data if self._method == "POST" else b"")
    request = AWSRequest(method=self._method, url=self._path, data=payload, headers=headers)
    request.context["timestamp"] = headers["X-Amz-Date"]
    return request


def _signature_of_the_path_as_requested(self):
    sent = self._get_string_between("Signature=", ",", self._headers["Authorization"])
    path = self._path
    for candidate in (path, path + "/") if not path.endswith("/") and "?" not in path else (path,):
        self._path = candidate
        if self._calculate_signature() == sent:
            self._path = path
            return
    self._path = path
    self._raise_signature_does_not_match()


# A denied call to a JSON service (ECS, ECR, Lambda, Step Functions, ...) is answered by AWS
# with a JSON AccessDeniedException, which the SDKs name; moto 5.2.5 answers every service
# with IAM's XML error, which JSON clients cannot read.
from moto.core.exceptions import JsonRESTError  # noqa: E402
from moto.iam.access_control import IAMRequest  # noqa: E402

_XML_SERVICES = {"iam", "sts", "cloudformation", "sns", "ec2", "sqs", "elasticloadbalancing"}
_raise_xml_access_denied = IAMRequest._raise_access_denied


class _JsonAccessDenied(JsonRESTError):
    code = 400


def _raise_access_denied_in_the_service_protocol(self):
    if self._service in _XML_SERVICES:
        _raise_xml_access_denied(self)
    raise _JsonAccessDenied(
        "AccessDeniedException",
        f"User: {self._access_key.arn} is not authorized to perform: {self._action} "
        f"because no identity-based policy allows the {self._action} action",
    )


IAMRequest._raise_access_denied = _raise_access_denied_in_the_service_protocol
IAMRequestBase._create_aws_request = _request_as_sent
IAMRequestBase.check_signature = _signature_of_the_path_as_requested


# S3's bucket-owner condition: a request with `x-amz-expected-bucket-owner` whose bucket belongs to
# another account fails with 403 AccessDenied, as AWS documents ("Verifying bucket ownership with
# bucket owner condition"); moto 5.2.5 ignores the header. And the account regional namespace:
# only the account a name's `-<account>-<region>-an` suffix names can create it, with the
# account-regional header; moto checks the suffix only when the header is sent.
from moto.s3.exceptions import InvalidBucketName, S3AccessDeniedError  # noqa: E402
from moto.s3.responses import S3Response  # noqa: E402
import re as _re  # noqa: E402

_REGIONAL_NAME = _re.compile(r"-(\d{12})-([a-z0-9-]+)-an$")


class _WrongBucketOwner(S3AccessDeniedError):
    code = 403


def _owner_checked(handler):
    def checked(self, request, full_url, *args, **kwargs):
        expected = request.headers.get("x-amz-expected-bucket-owner")
        bucket = self.parse_bucket_name_from_url(request, full_url)
        if expected and bucket in s3_backends.bucket_accounts:
            _, owner = s3_backends.bucket_accounts[bucket]
            if owner != expected:
                raise _WrongBucketOwner()
        return handler(self, request, full_url, *args, **kwargs)

    return checked


def _regional_names_reserved(handler):
    def create(self, request, bucket_name, querystring, *args, **kwargs):
        regional = _REGIONAL_NAME.search(bucket_name or "")
        if regional and not querystring and request.method == "PUT":
            header = request.headers.get("x-amz-bucket-namespace")
            if header != "account-regional" or regional.group(1) != self.get_current_account():
                raise InvalidBucketName()
        return handler(self, request, bucket_name, querystring, *args, **kwargs)

    return create


S3Response._bucket_response = _owner_checked(S3Response._bucket_response)
S3Response._key_response = _owner_checked(S3Response._key_response)
S3Response._bucket_response_put = _regional_names_reserved(S3Response._bucket_response_put)


# AWS: UpdateStack with UsePreviousValue keeps the value a parameter had, its template default
# included. moto 5.2.5 looks it up among the values given at creation only, and fails with a
# KeyError (HTTP 500) for a parameter that was left at its default.
_resolve_update_parameters = _cloudformation_models.CloudFormationBackend._resolve_update_parameters


def _previous_values_include_defaults(self, instance, incoming_params):
    kept = [
        p for p in incoming_params
        if not p.get("UsePreviousValue", False) or p["ParameterKey"] in instance.parameters
    ]
    return _resolve_update_parameters(self, instance, kept)


_cloudformation_models.CloudFormationBackend._resolve_update_parameters = _previous_values_include_defaults


# Step Functions calls a Lambda task with the state machine's role; moto 5.2.5's interpreter
# calls with fixed keys of its own. Its invokes go to the local cloud's router, which judges them
# against the role's policy (as Lambda does the role's session): the role rides along in a header.
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils as _lambda_eval_utils  # noqa: E402

_boto_client_for = _lambda_eval_utils.boto_client_for


def _as_the_execution_role(region, service, state_credentials=None):
    client = _boto_client_for(region=region, service=service, state_credentials=state_credentials)
    role = getattr(state_credentials, "role_arn", None)
    if role:
        def _name_the_role(request, **_):
            request.headers["x-localcloud-role-arn"] = role
        client.meta.events.register("before-sign.*.*", _name_the_role)
    return client


_lambda_eval_utils.boto_client_for = _as_the_execution_role


# AWS returns a role's inline policy document as JSON (URL-encoded); moto 5.2.5 returns one that
# CloudFormation created as a Python dict's repr, which no JSON reader (the local cloud's
# authorizer among them) can parse.
from moto.iam.models import IAMBackend  # noqa: E402

_get_role_policy = IAMBackend.get_role_policy


def _role_policy_as_json(self, role_name, policy_name):
    name, document = _get_role_policy(self, role_name, policy_name)
    return name, json.dumps(document) if isinstance(document, dict) else document


IAMBackend.get_role_policy = _role_policy_as_json


# AWS: `Fn::GetAtt <LogGroup>.Arn` is the group's ARN with `:*` appended (the CloudFormation
# reference's example: `arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*`),
# which is what a policy naming it grants FilterLogEvents on. moto 5.2.5 leaves off the `:*`.
from moto.logs.models import LogGroup  # noqa: E402

_log_group_attribute = LogGroup.get_cfn_attribute


def _log_group_arn_as_cloudformation_gives_it(self, attribute_name):
    if attribute_name == "Arn":
        return self.arn + ":*"
    return _log_group_attribute(self, attribute_name)


LogGroup.get_cfn_attribute = _log_group_arn_as_cloudformation_gives_it


# A Lambda permission's FunctionUrlAuthType and InvokedViaFunctionUrl are conditions of its
# statement in AWS's GetPolicy (`StringEquals lambda:FunctionUrlAuthType`, `Bool
# lambda:InvokedViaFunctionUrl`); moto 5.2.5 leaves them as unknown top-level keys, so no reader
# of the policy (the local cloud's authorizer of function URL requests) sees them. It also leaves
# the request's FunctionName (and Qualifier) in the statement, which AWS's statements never hold
# and the authorizer refuses to judge as an unknown element.
from moto.awslambda.policy import Policy as _LambdaPolicy  # noqa: E402

_decode_permission = _LambdaPolicy.decode_policy


def _url_conditions_kept(self, obj):
    conditions = {}
    if "FunctionUrlAuthType" in obj:
        conditions["StringEquals"] = {"lambda:FunctionUrlAuthType": obj.pop("FunctionUrlAuthType")}
    if "InvokedViaFunctionUrl" in obj:
        via = obj.pop("InvokedViaFunctionUrl")
        conditions["Bool"] = {"lambda:InvokedViaFunctionUrl": str(via).lower()}
    policy = _decode_permission(self, obj)
    statement = policy.statements[-1]
    for request_only in ("FunctionName", "Qualifier"):
        statement.pop(request_only, None)
    if conditions:
        statement.setdefault("Condition", {}).update(conditions)
    return policy


_LambdaPolicy.decode_policy = _url_conditions_kept


# Service Quotas: moto 5.2.5 knows VPC's quotas only. `sigship up`'s preflight reads two more:
# CodeBuild's "Concurrently running builds for ARM/Large environment" (L-596BEAB4), whose default
# AWS documents as 1 per region (0 in some new accounts, which the preflight refuses), and
# Fargate's "Fargate On-Demand vCPU resource count" (L-3032A538), AWS's default 6 (new accounts
# may start lower), which the sync size must fit. The account's values are the local cloud's
# options, in the JSON file LOCALCLOUD_QUOTAS_FILE names (read at each request: a test changes
# them as AWS or a quota request would); the local Fargate refuses tasks above the second.
from moto.servicequotas.models import ServiceQuotasBackend  # noqa: E402

_KNOWN_QUOTAS = {
    ("codebuild", "L-596BEAB4"): (
        {"QuotaName": "Concurrently running builds for ARM/Large environment", "ServiceName": "AWS CodeBuild", "Unit": "None"},
        "LOCALCLOUD_CODEBUILD_ARM_LARGE_BUILDS",
        "1",
    ),
    ("fargate", "L-3032A538"): (
        {"QuotaName": "Fargate On-Demand vCPU resource count", "ServiceName": "AWS Fargate", "Unit": "None"},
        "LOCALCLOUD_FARGATE_ON_DEMAND_VCPUS",
        "6",
    ),
}
_get_service_quota = ServiceQuotasBackend.get_service_quota


def _known_quotas(self, service_code, quota_code):
    known = _KNOWN_QUOTAS.get((service_code, quota_code))
    if known is None:
        return _get_service_quota(self, service_code, quota_code)
    fields, variable, default = known
    with open(os.environ["LOCALCLOUD_QUOTAS_FILE"], encoding="utf-8") as answers:
        value = json.load(answers).get(variable, default)
    arn = f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:{service_code}/{quota_code}"
    return dict(
        fields,
        Adjustable=True,
        GlobalQuota=False,
        QuotaCode=quota_code,
        ServiceCode=service_code,
        QuotaArn=arn,
        Value=float(value),
    )


ServiceQuotasBackend.get_service_quota = _known_quotas


# S3 GetBucketVersioning: moto 5.2.5 answers `<GetBucketVersioningResponse/>` (its query-protocol
# serializer, the status left out); S3 answers `<VersioningConfiguration>` with `<Status>` once
# versioning was ever set, empty before. The SDK cannot read moto's.
from moto.s3.responses import S3Response  # noqa: E402


def _get_bucket_versioning(self):
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
    )
    return 200, {"Content-Type": "application/xml"}, body


S3Response.get_bucket_versioning = _get_bucket_versioning


# CloudFormation's DeletionPolicy RetainExceptOnCreate: moto 5.2.5 keeps only "Retain" on stack
# deletion. It is Retain for a stack whose create completed, Delete when a create rolls back; moto
# never rolls a create back, so locally it is Retain.
_delete_stack_resources = ResourceMap.delete


def _delete_keeping_retain_except_on_create(self):
    for resource in self._resource_json_map.values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            resource["DeletionPolicy"] = "Retain"
    return _delete_stack_resources(self)


ResourceMap.delete = _delete_keeping_retain_except_on_create
