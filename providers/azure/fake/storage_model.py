"""Microsoft.Storage 2025-01-01: storage accounts and blob containers, a mixin of model.Arm.

What is modelled, as the storage RP does it:

* Account names are global: a name used by any resource group (or listed in
  config ``taken_storage_account_names``) is 409 ``StorageAccountAlreadyTaken``;
  ``checkNameAvailability`` says the same (reasons ``AccountNameInvalid`` /
  ``AlreadyExists``).
* Create is long-running the storage way (StorageAccountCreate.json): 202 with
  an empty body, ``Location`` and ``Retry-After``; polling Location answers 202
  until done, then 200 with the account.  A PUT on an existing account of the
  same group updates it synchronously (200 + body).
* PATCH updates tags / sku / properties; DELETE is 200, or 204 when missing, and
  takes the containers with it.
* Containers: PUT 201 (200 when it exists), GET (404 ``ContainerNotFound``),
  DELETE 200/204; public access needs ``allowBlobPublicAccess``.
"""

import copy
import re

from errors import ArmError, bad_request, conflict, resource_not_found
from state import Answer

ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts"
CONTAINER_TYPE = "Microsoft.Storage/storageAccounts/blobServices/containers"
ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
CONTAINER_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
GEO = ("Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS")
PAIRS = {"eastus": "westus", "westus2": "westcentralus", "westus": "eastus", "eastus2": "centralus",
         "centralus": "eastus2", "northeurope": "westeurope", "westeurope": "northeurope"}


def merge(base, patch):
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = copy.deepcopy(v)
    return base


class StorageMixin:
    def account_id(self, a):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (self.sub, a["rg"], ACCOUNT_TYPE, a["name"])

    def render_account(self, a):
        name, sku = a["name"], a["sku"]["name"]
        props = copy.deepcopy(a["props"])
        kind = a["kind"]
        eps = {"blob": "https://%s.blob.core.windows.net/" % name}
        if kind in ("Storage", "StorageV2"):
            for svc in ("queue", "table", "file"):
                eps[svc] = "https://%s.%s.core.windows.net/" % (name, svc)
        if kind in ("StorageV2", "BlockBlobStorage", "BlobStorage"):
            eps["dfs"] = "https://%s.dfs.core.windows.net/" % name
            eps["web"] = "https://%s.z13.web.core.windows.net/" % name
        props.update({"provisioningState": a["state"], "creationTime": a["created"], "primaryEndpoints": eps,
                      "primaryLocation": a["location"], "statusOfPrimary": "available",
                      "keyCreationTime": {"key1": a["created"], "key2": a["created"]}})
        if sku in GEO:
            props["secondaryLocation"] = PAIRS.get(a["location"].lower(), "westus")
            props["statusOfSecondary"] = "available"
        props.setdefault("supportsHttpsTrafficOnly", True)
        props.setdefault("minimumTlsVersion", "TLS1_2")
        props.setdefault("allowBlobPublicAccess", False)
        props.setdefault("networkAcls", {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [],
                                         "defaultAction": "Allow"})
        enc = props.setdefault("encryption", {})
        enc.setdefault("keySource", "Microsoft.Storage")
        services = enc.setdefault("services", {})
        for svc in ("blob", "file"):
            s = services.setdefault(svc, {})
            s.setdefault("enabled", True)
            s.setdefault("keyType", "Account")
            s.setdefault("lastEnabledTime", a["created"])
        if kind in ("StorageV2", "BlobStorage"):
            props.setdefault("accessTier", "Hot")
        out = {"id": self.account_id(a), "name": name, "type": ACCOUNT_TYPE, "location": a["location"],
               "tags": dict(a.get("tags") or {}), "kind": kind,
               "sku": {"name": sku, "tier": "Premium" if sku.startswith("Premium") else "Standard"},
               "properties": props}
        for k in ("identity", "extendedLocation", "zones", "placement"):
            if a.get(k) is not None:
                out[k] = copy.deepcopy(a[k])
        return out

    def name_taken(self, name, rg=None):
        if name.lower() in [n.lower() for n in self.st.config.get("taken_storage_account_names", [])]:
            return True
        a = self.accounts.get(name.lower())
        return a is not None and (rg is None or a["rg"].lower() != rg.lower())

    def account(self, req):
        rg, name = req.params["resourceGroupName"], req.params["accountName"]
        a = self.accounts.get(name.lower())
        if a is None or a["rg"].lower() != rg.lower():
            self.group(rg)
            raise resource_not_found(ACCOUNT_TYPE, name, rg)
        return a

    # ------------------------------------------------------------------ accounts
    def h_StorageAccounts_Create(self, req):
        rg, name, body = req.params["resourceGroupName"], req.params["accountName"], req.body
        g = self.group(rg, writing=True)
        self.check_tags(body.get("tags"))
        if self.name_taken(name, rg):
            raise conflict("StorageAccountAlreadyTaken", "The storage account named %s is already taken." % name)
        a = self.accounts.get(name.lower())
        if a is not None:
            if a["state"] != "Succeeded":
                return Answer(202, None, self.storage_location(req, a["op"]))
            if a["location"].lower() != body["location"].lower():
                raise conflict("InvalidResourceLocation",
                               "The resource '%s' already exists in location '%s' in resource group '%s'. A "
                               "resource with the same name cannot be created in location '%s'. Please select a "
                               "new resource name." % (name, a["location"], a["rg"], body["location"]))
            self.apply_account(a, body)
            return Answer(200, self.render_account(a))
        a = {"name": name, "rg": g["name"], "location": body["location"], "props": {}, "containers": {},
             "state": "Creating", "created": self.st.time()}
        self.apply_account(a, body)
        self.accounts[name.lower()] = a

        def finish():
            if self.accounts.get(name.lower()) is a:
                a["state"] = "Succeeded"

        def result():
            return self.render_account(a) if self.accounts.get(name.lower()) is a else None
        a["op"] = self.start_op("storage", a["location"], self.account_id(a), finish, result)
        return Answer(202, None, self.storage_location(req, a["op"]))

    def storage_location(self, req, op):
        return {"Location": self.op_urls(req, op)[1], "Retry-After": "1"}

    def apply_account(self, a, body):
        props = body.get("properties") or {}
        if props.get("allowBlobPublicAccess") is False and any(
                c["props"].get("publicAccess") not in (None, "None") for c in a["containers"].values()):
            raise conflict("PublicAccessNotPermitted", "Public access is not permitted on this storage account.")
        for k in ("kind", "sku", "identity", "extendedLocation", "zones", "placement"):
            if body.get(k) is not None:
                a[k] = copy.deepcopy(body[k])
        if "tags" in body:
            a["tags"] = body["tags"]
        merge(a["props"], {k: v for k, v in props.items() if v is not None})

    def h_StorageAccounts_GetProperties(self, req):
        return Answer(200, self.render_account(self.account(req)))

    def h_StorageAccounts_Update(self, req):
        a = self.account(req)
        self.check_tags(req.body.get("tags"))
        self.apply_account(a, req.body)
        return Answer(200, self.render_account(a))

    def h_StorageAccounts_ListByResourceGroup(self, req):
        rg = req.params["resourceGroupName"]
        self.group(rg)
        return Answer(200, {"value": [self.render_account(a) for a in self.accounts.values()
                                      if a["rg"].lower() == rg.lower()]})

    def h_StorageAccounts_Delete(self, req):
        rg, name = req.params["resourceGroupName"], req.params["accountName"]
        a = self.accounts.get(name.lower())
        if a is None or a["rg"].lower() != rg.lower():
            return Answer(204)
        del self.accounts[name.lower()]
        return Answer(200)

    def h_StorageAccounts_CheckNameAvailability(self, req):
        name = req.body["name"]
        if not ACCOUNT_NAME.match(name):
            return Answer(200, {"nameAvailable": False, "reason": "AccountNameInvalid",
                                "message": "%s is not a valid storage account name. Storage account name must be "
                                           "between 3 and 24 characters in length and use numbers and lower-case "
                                           "letters only." % name})
        if self.name_taken(name):
            return Answer(200, {"nameAvailable": False, "reason": "AlreadyExists",
                                "message": "The storage account named %s is already taken." % name})
        return Answer(200, {"nameAvailable": True})

    # ------------------------------------------------------------------ containers
    def render_container(self, a, c):
        props = copy.deepcopy(c["props"])
        props.setdefault("publicAccess", "None")
        props.setdefault("defaultEncryptionScope", "$account-encryption-key")
        props.setdefault("denyEncryptionScopeOverride", False)
        props.update({"leaseStatus": "Unlocked", "leaseState": "Available", "lastModifiedTime": c["modified"],
                      "hasImmutabilityPolicy": False, "hasLegalHold": False, "deleted": False,
                      "remainingRetentionDays": 0})
        return {"id": self.account_id(a) + "/blobServices/default/containers/" + c["name"], "name": c["name"],
                "type": CONTAINER_TYPE, "etag": c["etag"], "properties": props}

    def h_BlobContainers_Create(self, req):
        a = self.account(req)
        name = req.params["containerName"]
        if a["state"] != "Succeeded":
            raise conflict("StorageAccountIsNotProvisioned", "The storage account provisioning state must be "
                           "'Succeeded' before executing the operation.")
        if not CONTAINER_NAME.match(name):
            raise bad_request("ContainerOperationFailure", "The specified resource name contains invalid "
                              "characters.")
        props = {k: v for k, v in ((req.body or {}).get("properties") or {}).items() if v is not None}
        if props.get("publicAccess") not in (None, "None") and not a["props"].get("allowBlobPublicAccess"):
            raise conflict("PublicAccessNotPermitted", "Public access is not permitted on this storage account.")
        c = a["containers"].get(name.lower())
        status = 200 if c else 201
        if c is None:
            c = a["containers"][name.lower()] = {"name": name, "props": {}}
        c["props"].update(props)
        c.update({"modified": self.st.time(), "etag": '"0x8DD%s"' % self.st.hex(12).upper()})
        return Answer(status, self.render_container(a, c))

    def h_BlobContainers_Get(self, req):
        a = self.account(req)
        c = a["containers"].get(req.params["containerName"].lower())
        if c is None:
            raise ArmError(404, "ContainerNotFound", "The specified container does not exist.")
        return Answer(200, self.render_container(a, c))

    def h_BlobContainers_Delete(self, req):
        a = self.accounts.get(req.params["accountName"].lower())
        if a is None or a["rg"].lower() != req.params["resourceGroupName"].lower():
            return Answer(204)
        if a["containers"].pop(req.params["containerName"].lower(), None) is None:
            return Answer(204)
        return Answer(200)
