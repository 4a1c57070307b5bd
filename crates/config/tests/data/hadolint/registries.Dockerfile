FROM alpine:3.19 AS a
FROM docker.io/library/alpine:3.19 AS b
FROM eu.gcr.io/project/image:1.0 AS c
FROM gcr.io/distroless/static:nonroot AS d
FROM registry.example.com/team/app:2 AS e
FROM quay.io/prometheus/busybox:latest AS f
FROM a AS g
FROM scratch AS h
FROM --platform=$TARGETPLATFORM alpine:3.19 AS i
FROM --platform=${TARGETPLATFORM} alpine:3.19 AS context
FROM --platform=$BUILDPLATFORM alpine:3.19 AS scratch
FROM alpine:3.19 AS Scratch
USER 1000
