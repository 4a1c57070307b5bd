# hadolint global ignore=DL3003
FROM opensuse/leap:15.5
ARG GITHUB_TOKEN
ARG BUILD_VERSION=1
ARG db_password=changeme
ENV API_USERNAME=svc LOG_LEVEL=info
ENV TOKENIZER_MODEL base
ENV PLAIN=1
COPY app.tar.gz /tmp/
COPY vendor.zip extra.tgz /opt/
COPY data.tar.xz /srv/data.tar.xz
RUN tar -xzf /tmp/app.tar.gz -C /opt && cd /opt
RUN zypper install curl && zypper clean
RUN zypper --non-interactive install -y wget=1.21 vim>9 local.rpm
RUN zypper -n in git && zypper cc
RUN zypper clean && zypper install -y less
RUN zypper dist-upgrade -y
RUN zypper dup
RUN zypper rm -y foo
# hadolint ignore=DL3008
RUN apt-get install -y --no-install-recommends wget
RUN unxz /srv/data.tar.xz
HEALTHCHECK CMD ["true"]
USER 1000
