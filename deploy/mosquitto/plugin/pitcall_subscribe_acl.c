/*
 * pitcall_subscribe_acl: a Mosquitto 2 plugin that checks SUBSCRIBE against the device rule.
 *
 * Mosquitto 2.0's acl_file grants every SUBSCRIBE and applies its read rules only when a message is
 * delivered. For a shared subscription that is too late: a device that subscribes to
 * `$share/pitcall-ingest/...` becomes a member of ingest's group and is dealt its share of every
 * device's messages, which the delivery check then throws away. This plugin refuses such a
 * subscription when it is made (SUBACK reason 0x87, "not authorized").
 *
 * Rule: a client whose username is not one of the service accounts (`plugin_opt_services`) may
 * subscribe only to `{prefix}/dev/{its username}/config` and `{prefix}/dev/{its username}/ack`,
 * literally: no wildcards, no `$share/`. Devices log in with username = device id (the password
 * file written from the device registry by `pitcall broker acl`), so the registry stays the source
 * of truth for who may log in; this plugin only knows the shape of a device's own topics. Every
 * other check (publish, delivery, service accounts' subscriptions) is deferred to the acl_file.
 *
 * Options (mosquitto.conf, after the `plugin` line):
 *   plugin_opt_prefix pitcall/v1
 *   plugin_opt_services pitcall-ingest pitcall-api
 *
 * Build: cc -shared -fPIC -O2 -Wall -o pitcall_subscribe_acl.so pitcall_subscribe_acl.c
 * (headers from Debian's mosquitto-dev; `make broker-plugin` does it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#define MAX_SERVICES 16

static mosquitto_plugin_id_t *plugin_id = NULL;
static char *prefix = NULL;
static char *services_text = NULL;
static const char *services[MAX_SERVICES];
static int service_count = 0;

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

static int is_service(const char *username)
{
	for(int i = 0; i < service_count; i++){
		if(strcmp(services[i], username) == 0) return 1;
	}
	return 0;
}

/* Is `topic` exactly `{prefix}/dev/{username}/config` or `{prefix}/dev/{username}/ack`? */
static int is_own_topic(const char *topic, const char *username)
{
	size_t prefix_len = strlen(prefix), user_len = strlen(username);
	if(strncmp(topic, prefix, prefix_len) != 0) return 0;
	topic += prefix_len;
	if(strncmp(topic, "/dev/", 5) != 0) return 0;
	topic += 5;
	if(strncmp(topic, username, user_len) != 0) return 0;
	topic += user_len;
	return strcmp(topic, "/config") == 0 || strcmp(topic, "/ack") == 0;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const char *username;

	(void)event;
	(void)userdata;
	if(ed->access != MOSQ_ACL_SUBSCRIBE) return MOSQ_ERR_PLUGIN_DEFER;
	username = mosquitto_client_username(ed->client);
	if(username != NULL && (is_service(username) || is_own_topic(ed->topic, username))){
		return MOSQ_ERR_PLUGIN_DEFER;
	}
	mosquitto_log_printf(MOSQ_LOG_WARNING, "pitcall_subscribe_acl: refused %s a subscription to %s",
			username ? username : "(anonymous)", ed->topic);
	return MOSQ_ERR_ACL_DENIED;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata;
	for(int i = 0; i < opt_count; i++){
		if(strcmp(opts[i].key, "prefix") == 0){
			prefix = mosquitto_strdup(opts[i].value);
		}else if(strcmp(opts[i].key, "services") == 0){
			services_text = mosquitto_strdup(opts[i].value);
		}
	}
	if(prefix == NULL || services_text == NULL){
		mosquitto_log_printf(MOSQ_LOG_ERR, "pitcall_subscribe_acl: plugin_opt_prefix and plugin_opt_services are required");
		return MOSQ_ERR_INVAL;
	}
	for(char *save = NULL, *name = strtok_r(services_text, " ,", &save); name != NULL; name = strtok_r(NULL, " ,", &save)){
		if(service_count == MAX_SERVICES){
			mosquitto_log_printf(MOSQ_LOG_ERR, "pitcall_subscribe_acl: more than %d services", MAX_SERVICES);
			return MOSQ_ERR_INVAL;
		}
		services[service_count++] = name;
	}
	plugin_id = identifier;
	mosquitto_log_printf(MOSQ_LOG_INFO, "pitcall_subscribe_acl: devices may subscribe to %s/dev/<username>/{config,ack} only; %d service accounts",
			prefix, service_count);
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL);
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata;
	(void)opts;
	(void)opt_count;
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
	mosquitto_free(prefix);
	mosquitto_free(services_text);
	prefix = services_text = NULL;
	service_count = 0;
	return MOSQ_ERR_SUCCESS;
}
