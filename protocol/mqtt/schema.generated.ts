// Generated from protocol/mqtt/edgedm.proto by scripts/generate-proto.mjs. Do not edit;
// run `npm run generate:proto` after changing the .proto file.
export const DESCRIPTOR = {
  "nested": {
    "edgedm": {
      "nested": {
        "v1": {
          "nested": {
            "ValueType": {
              "values": {
                "VALUE_TYPE_UNSPECIFIED": 0,
                "VALUE_TYPE_STRING": 1,
                "VALUE_TYPE_INTEGER": 2,
                "VALUE_TYPE_UNSIGNED": 3,
                "VALUE_TYPE_FLOAT": 4,
                "VALUE_TYPE_BOOLEAN": 5,
                "VALUE_TYPE_OPAQUE": 6,
                "VALUE_TYPE_TIME": 7,
                "VALUE_TYPE_OBJLNK": 8,
                "VALUE_TYPE_CORELNK": 9
              }
            },
            "ObjectLink": {
              "fields": {
                "objectId": {
                  "type": "uint32",
                  "id": 1,
                  "protoName": "object_id"
                },
                "instanceId": {
                  "type": "uint32",
                  "id": 2,
                  "protoName": "instance_id"
                }
              }
            },
            "Record": {
              "oneofs": {
                "value": {
                  "oneof": [
                    "stringValue",
                    "integerValue",
                    "unsignedValue",
                    "floatValue",
                    "booleanValue",
                    "opaqueValue",
                    "timeValue",
                    "objlnkValue",
                    "corelnkValue"
                  ]
                }
              },
              "fields": {
                "path": {
                  "type": "string",
                  "id": 1
                },
                "type": {
                  "type": "ValueType",
                  "id": 2
                },
                "stringValue": {
                  "type": "string",
                  "id": 3,
                  "protoName": "string_value"
                },
                "integerValue": {
                  "type": "sint64",
                  "id": 4,
                  "protoName": "integer_value"
                },
                "unsignedValue": {
                  "type": "uint64",
                  "id": 5,
                  "protoName": "unsigned_value"
                },
                "floatValue": {
                  "type": "double",
                  "id": 6,
                  "protoName": "float_value"
                },
                "booleanValue": {
                  "type": "bool",
                  "id": 7,
                  "protoName": "boolean_value"
                },
                "opaqueValue": {
                  "type": "bytes",
                  "id": 8,
                  "protoName": "opaque_value"
                },
                "timeValue": {
                  "type": "sint64",
                  "id": 9,
                  "protoName": "time_value"
                },
                "objlnkValue": {
                  "type": "ObjectLink",
                  "id": 10,
                  "protoName": "objlnk_value"
                },
                "corelnkValue": {
                  "type": "string",
                  "id": 11,
                  "protoName": "corelnk_value"
                }
              }
            },
            "LinkAttribute": {
              "oneofs": {
                "_value": {
                  "oneof": [
                    "value"
                  ]
                }
              },
              "fields": {
                "name": {
                  "type": "string",
                  "id": 1
                },
                "value": {
                  "type": "string",
                  "id": 2,
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "Link": {
              "fields": {
                "target": {
                  "type": "string",
                  "id": 1
                },
                "attributes": {
                  "rule": "repeated",
                  "type": "LinkAttribute",
                  "id": 2
                }
              }
            },
            "NotificationAttributes": {
              "oneofs": {
                "_pmin": {
                  "oneof": [
                    "pmin"
                  ]
                },
                "_pmax": {
                  "oneof": [
                    "pmax"
                  ]
                },
                "_gt": {
                  "oneof": [
                    "gt"
                  ]
                },
                "_lt": {
                  "oneof": [
                    "lt"
                  ]
                },
                "_st": {
                  "oneof": [
                    "st"
                  ]
                }
              },
              "fields": {
                "pmin": {
                  "type": "uint32",
                  "id": 1,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "pmax": {
                  "type": "uint32",
                  "id": 2,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "gt": {
                  "type": "double",
                  "id": 3,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "lt": {
                  "type": "double",
                  "id": 4,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "st": {
                  "type": "double",
                  "id": 5,
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "OperationKind": {
              "values": {
                "OPERATION_KIND_UNSPECIFIED": 0,
                "OPERATION_KIND_READ": 1,
                "OPERATION_KIND_WRITE": 2,
                "OPERATION_KIND_EXECUTE": 3,
                "OPERATION_KIND_DISCOVER": 4,
                "OPERATION_KIND_OBSERVE": 5,
                "OPERATION_KIND_CANCEL_OBSERVE": 6,
                "OPERATION_KIND_CREATE": 7,
                "OPERATION_KIND_DELETE": 8,
                "OPERATION_KIND_WRITE_ATTRIBUTES": 9
              }
            },
            "WriteMode": {
              "values": {
                "WRITE_MODE_UNSPECIFIED": 0,
                "WRITE_MODE_REPLACE": 1,
                "WRITE_MODE_UPDATE": 2
              }
            },
            "BootstrapRequest": {
              "fields": {
                "requestId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "request_id"
                },
                "endpoint": {
                  "type": "string",
                  "id": 2
                }
              }
            },
            "BootstrapResponse": {
              "fields": {
                "requestId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "request_id"
                },
                "code": {
                  "type": "string",
                  "id": 2
                },
                "message": {
                  "type": "string",
                  "id": 3
                },
                "content": {
                  "rule": "repeated",
                  "type": "Record",
                  "id": 4
                },
                "firmwareTrustAnchor": {
                  "type": "bytes",
                  "id": 5,
                  "protoName": "firmware_trust_anchor"
                }
              }
            },
            "RegisterMessage": {
              "fields": {
                "lwm2mVersion": {
                  "type": "string",
                  "id": 1,
                  "protoName": "lwm2m_version"
                },
                "lifetime": {
                  "type": "uint32",
                  "id": 2
                },
                "binding": {
                  "type": "string",
                  "id": 3
                },
                "queueMode": {
                  "type": "bool",
                  "id": 4,
                  "protoName": "queue_mode"
                },
                "objectLinks": {
                  "rule": "repeated",
                  "type": "Link",
                  "id": 5,
                  "protoName": "object_links"
                },
                "session": {
                  "type": "SessionState",
                  "id": 6
                }
              }
            },
            "SessionState": {
              "fields": {
                "bootId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "boot_id"
                },
                "observations": {
                  "rule": "repeated",
                  "type": "HeldObservation",
                  "id": 2
                }
              }
            },
            "HeldObservation": {
              "fields": {
                "id": {
                  "type": "string",
                  "id": 1
                },
                "path": {
                  "type": "string",
                  "id": 2
                },
                "attributes": {
                  "type": "NotificationAttributes",
                  "id": 3
                }
              }
            },
            "UpdateMessage": {
              "oneofs": {
                "_lifetime": {
                  "oneof": [
                    "lifetime"
                  ]
                }
              },
              "fields": {
                "lifetime": {
                  "type": "uint32",
                  "id": 1,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "hasObjectLinks": {
                  "type": "bool",
                  "id": 2,
                  "protoName": "has_object_links"
                },
                "objectLinks": {
                  "rule": "repeated",
                  "type": "Link",
                  "id": 3,
                  "protoName": "object_links"
                }
              }
            },
            "DeregisterMessage": {
              "fields": {
                "reason": {
                  "type": "string",
                  "id": 1
                }
              }
            },
            "RequestMessage": {
              "oneofs": {
                "_args": {
                  "oneof": [
                    "args"
                  ]
                }
              },
              "fields": {
                "id": {
                  "type": "string",
                  "id": 1
                },
                "kind": {
                  "type": "OperationKind",
                  "id": 2
                },
                "path": {
                  "type": "string",
                  "id": 3
                },
                "writeMode": {
                  "type": "WriteMode",
                  "id": 4,
                  "protoName": "write_mode"
                },
                "content": {
                  "rule": "repeated",
                  "type": "Record",
                  "id": 5
                },
                "args": {
                  "type": "string",
                  "id": 6,
                  "options": {
                    "proto3_optional": true
                  }
                },
                "attributes": {
                  "type": "NotificationAttributes",
                  "id": 7
                },
                "block": {
                  "type": "Block",
                  "id": 8
                }
              }
            },
            "Block": {
              "fields": {
                "num": {
                  "type": "uint32",
                  "id": 1
                },
                "size": {
                  "type": "uint32",
                  "id": 2
                },
                "more": {
                  "type": "bool",
                  "id": 3
                }
              }
            },
            "ResponseMessage": {
              "oneofs": {
                "_nextOffset": {
                  "oneof": [
                    "nextOffset"
                  ]
                }
              },
              "fields": {
                "id": {
                  "type": "string",
                  "id": 1
                },
                "code": {
                  "type": "string",
                  "id": 2
                },
                "message": {
                  "type": "string",
                  "id": 3
                },
                "content": {
                  "rule": "repeated",
                  "type": "Record",
                  "id": 4
                },
                "hasLinks": {
                  "type": "bool",
                  "id": 5,
                  "protoName": "has_links"
                },
                "links": {
                  "rule": "repeated",
                  "type": "Link",
                  "id": 6
                },
                "location": {
                  "type": "string",
                  "id": 7
                },
                "nextOffset": {
                  "type": "uint32",
                  "id": 8,
                  "protoName": "next_offset",
                  "options": {
                    "proto3_optional": true
                  }
                }
              }
            },
            "NotifyMessage": {
              "fields": {
                "observationId": {
                  "type": "string",
                  "id": 1,
                  "protoName": "observation_id"
                },
                "path": {
                  "type": "string",
                  "id": 2
                },
                "sequence": {
                  "type": "uint32",
                  "id": 3
                },
                "content": {
                  "rule": "repeated",
                  "type": "Record",
                  "id": 4
                }
              }
            },
            "StatusMessage": {
              "fields": {
                "online": {
                  "type": "bool",
                  "id": 1
                },
                "reason": {
                  "type": "string",
                  "id": 2
                }
              }
            }
          }
        }
      }
    }
  }
};
